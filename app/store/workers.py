"""The worker's view of Redis: claim (finish + take in one round trip), heartbeat, progress, wait for work."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis import Redis

from app import keys
from app.store.jobs import Retention
from app.store.scripts import Scripts


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker has just started: its execution id is its proof of ownership."""

    id: str
    exec_id: str
    queue: str
    attempt: int
    timeout_s: int
    data: bytes


@dataclass(frozen=True)
class Claim:
    job: ClaimedJob | None
    finished: str | None  # the outcome passed in became: completed, retry, failed, canceled, requeued, stale
    due_in_s: float | None  # when the next scheduled job of these queues is due, if any


@dataclass(frozen=True)
class Outcome:
    """How an execution ended, as the worker reports it."""

    job: ClaimedJob
    kind: str  # ok | error | refused | interrupted | canceled
    seconds: float
    result: str | None = None
    error: str | None = None
    trace: list[str] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.job.id,
                "exec": self.job.exec_id,
                "queue": self.job.queue,
                "outcome": self.kind,
                "seconds": round(self.seconds, 6),
                "ms": round(self.seconds * 1000),
                "result": self.result if self.result is not None else "null",
                "error": (self.error or "")[:2000],
                "trace": json.dumps(self.trace or []),
            },
            separators=(",", ":"),
        )


class WorkerStore:
    """Everything one worker process does in Redis."""

    def __init__(
        self,
        redis: Redis,
        scripts: Scripts,
        name: str,
        queues: tuple[str, ...],
        retention: Retention,
        lease_s: float,
        worker_ttl_s: int,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.name = name
        self.queues = queues
        self.lease_s = lease_s
        self.worker_ttl_s = worker_ttl_s
        self._config = json.dumps(
            {
                "worker": name,
                "queues": list(queues),
                "lease": lease_s,
                "ttl": retention.ttl_s,
                "keep": retention.keep,
                "delays": list(retention.delays_s),
                "worker_ttl": worker_ttl_s,
            }
        )
        self._wake_keys = [keys.wake(q) for q in queues]

    def claim(self, exec_id: str, outcome: Outcome | None, mode: str) -> Claim:
        """Record `outcome` (if any), then take the next job unless `mode` is 'none'. One round trip."""
        reply = self.scripts.run(
            "claim", [], [self._config, exec_id, outcome.to_json() if outcome else "", mode]
        )
        meta: dict[str, Any] = json.loads(reply[0]) or {}  # an empty Lua table may encode as []
        due = meta.get("due_in")
        raw = meta.get("job")
        job = None
        if raw:
            job = ClaimedJob(
                id=raw["id"],
                exec_id=raw["exec"],
                queue=raw["queue"],
                attempt=int(raw["attempt"]),
                timeout_s=int(raw.get("timeout") or 30),
                data=reply[1] if len(reply) > 1 else b"",
            )
        return Claim(job, meta.get("finished"), float(due) if due is not None else None)

    def heartbeat(self, job: ClaimedJob | None) -> bool:
        """Refresh the worker and its job's lease; False when the job is no longer this worker's."""
        args: list[Any] = [self.name, self.worker_ttl_s]
        if job is None:
            args += ["", "", "", ""]
        else:
            args += [job.id, job.exec_id, job.queue, self.lease_s]
        return bool(self.scripts.run("heartbeat", [], args))

    def report_resources(self, cpu_percent: float, memory_mb: float) -> None:
        """Note this worker's CPU and memory (parent + child) in its rq worker hash."""
        self.redis.hset(
            keys.worker(self.name), mapping={"jl_cpu": f"{cpu_percent:.1f}", "jl_rss_mb": f"{memory_mb:.1f}"}
        )

    def wait_for_work(self, timeout_s: float) -> None:
        """Block until a submit, retry or resume pokes one of our queues, or `timeout_s` passes."""
        self.redis.blpop(self._wake_keys, timeout=max(0.01, timeout_s))


def report_progress(scripts: Scripts, job_id: str, exec_id: str, percent: float, step: str | None) -> bool:
    """Record progress of an execution; False when the caller no longer owns the job."""
    args = [job_id, exec_id, f"{percent:.4g}", step or "", "1" if step is not None else "0"]
    return bool(scripts.run("progress", [], args))
