"""Push jobs through Jobline's real Lua scripts the way the API and a worker would, pipelined.

Each job is created by submit.lua and finished by claim.lua (one call records the previous job's
outcome and takes the next), so hashes, registries, indexes, counters and trimming are exactly what
production writes; only the task itself does not run.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

from redis import Redis

from app import keys
from app.models import JobSpec
from app.store.codec import encode_data, spec_fields
from app.store.jobs import Retention
from app.store.scripts import Scripts
from app.store.workers import ClaimedJob, Outcome

WORKER_NAME = f"{socket.gethostname()}-4242"


def _config(queue: str, retention: Retention) -> str:
    return json.dumps(
        {
            "worker": WORKER_NAME,
            "queues": [queue],
            "lease": 30.0,
            "ttl": retention.ttl_s,
            "keep": retention.keep,
            "delays": list(retention.delays_s),
            "worker_ttl": 30,
        }
    )


def _batches(n: int, size: int) -> Iterator[int]:
    while n > 0:
        yield min(n, size)
        n -= size


class Filler:
    """Creates and finishes jobs in one queue through submit.lua and claim.lua, `batch` per pipeline."""

    def __init__(self, redis: Redis, retention: Retention, trace: list[str] | None = None) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)
        self.retention = retention
        self.trace = trace or []
        self._submit = self.scripts._scripts["submit"]
        self._claim = self.scripts._scripts["claim"]
        for script in (self._submit, self._claim):
            redis.script_load(script.script)

    def _submit_args(self, job_id: str, queue: str, task: str, max_retries: int) -> list[Any]:
        spec = JobSpec(task=task, queue=queue, actor="admin", max_retries=max_retries)
        fields = json.dumps(spec_fields(spec), separators=(",", ":"))
        return ["", job_id, fields, encode_data(task, {}), "", "", 0]

    def outcome(self, job_id: str, exec_id: str, queue: str, kind: str) -> str:
        job = ClaimedJob(job_id, exec_id, queue, 1, 30, b"")
        if kind == "ok":
            return Outcome(job, "ok", 0.012, result="null").to_json()
        return Outcome(job, "error", 0.012, error="DemoFailure: demo failure", trace=self.trace).to_json()

    def run(self, queue: str, n: int, kind: str = "ok", batch: int = 1000, task: str = "demo.noop") -> int:
        """Push `n` jobs through to completed (`ok`) or failed (`error`); returns how many finished."""
        finished = 0
        config = _config(queue, self.retention)
        for size in _batches(n, batch):
            ids = [str(uuid.uuid4()) for _ in range(size)]
            pipe = self.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.evalsha(
                    self._submit.sha, 1, keys.job(job_id), *self._submit_args(job_id, queue, task, 0)
                )
            pipe.execute()
            execs = [uuid.uuid4().hex[:16] for _ in ids]
            pipe = self.redis.pipeline(transaction=False)
            for i, exec_id in enumerate(execs):
                prev = self.outcome(ids[i - 1], execs[i - 1], queue, kind) if i else ""
                pipe.evalsha(self._claim.sha, 0, "", config, exec_id, prev, "take")
            pipe.evalsha(
                self._claim.sha, 0, "", config, "x", self.outcome(ids[-1], execs[-1], queue, kind), "none"
            )
            replies = pipe.execute()
            for job_id, reply in zip(ids, replies[:-1], strict=True):
                taken = json.loads(reply[0]).get("job", {}).get("id")
                if taken != job_id:
                    raise RuntimeError(f"expected to take {job_id}, took {taken}")
            finished += sum(
                1 for r in replies[1:] if json.loads(r[0]).get("finished") in ("completed", "failed")
            )
        return finished

    def submit_only(self, queue: str, n: int, batch: int = 1000) -> None:
        """`n` pending jobs."""
        for size in _batches(n, batch):
            pipe = self.redis.pipeline(transaction=False)
            for _ in range(size):
                job_id = str(uuid.uuid4())
                pipe.evalsha(
                    self._submit.sha, 1, keys.job(job_id), *self._submit_args(job_id, queue, "demo.noop", 0)
                )
            pipe.execute()
