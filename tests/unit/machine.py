"""A harness for the job state machine on fakeredis: the stores, an injected clock and a fake worker."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import fakeredis

from app import keys
from app.models import Job, JobFilter, JobSpec
from app.store.codec import decode_data
from app.store.jobs import JobStore, Retention
from app.store.scripts import Scripts
from app.store.workers import Claim, ClaimedJob, Outcome, WorkerStore

START_S = 1_800_000_000.0  # 2027-01-15: a fixed "now" for every test


class Clock:
    """Microseconds since the epoch, moved by hand."""

    def __init__(self, start_s: float = START_S) -> None:
        self.us = int(start_s * 1_000_000)

    def __call__(self) -> int:
        return self.us

    @property
    def s(self) -> float:
        return self.us / 1_000_000

    def advance(self, seconds: float) -> None:
        self.us += int(seconds * 1_000_000)


@dataclass
class Machine:
    """Stores wired to one fakeredis and one clock; `worker(name)` gives a worker's store."""

    redis: fakeredis.FakeRedis
    clock: Clock
    scripts: Scripts
    retention: Retention
    jobs: JobStore
    lease_s: float = 30.0
    workers: dict[str, WorkerStore] = field(default_factory=dict)

    def worker(self, name: str = "w1", queues: tuple[str, ...] = ("q",)) -> WorkerStore:
        if name not in self.workers:
            self.workers[name] = WorkerStore(
                self.redis, self.scripts, name, queues, self.retention, self.lease_s, 60
            )
        return self.workers[name]

    def submit(self, task: str = "demo.echo", run_at_s: float | None = None, **spec: Any) -> str:
        job_id = str(uuid.uuid4())
        spec.setdefault("queue", "q")
        outcome = self.jobs.submit(job_id, JobSpec(task=task, **spec), run_at_s)
        assert outcome.outcome == "created"
        return job_id

    def claim(self, outcome: Outcome | None = None, worker: str = "w1", mode: str = "take") -> Claim:
        return self.worker(worker).claim(uuid.uuid4().hex[:16], outcome, mode)

    def take(self, worker: str = "w1") -> ClaimedJob:
        claim = self.claim(worker=worker)
        assert claim.job is not None, "no job to take"
        return claim.job

    def job(self, job_id: str) -> Job:
        job = self.jobs.find(job_id)
        assert job is not None, f"job {job_id} is gone"
        return job

    def status(self, job_id: str) -> str:
        return self.job(job_id).status.value

    def listing(self, limit: int = 1000, **filters: Any) -> list[str]:
        return [j.id for j in self.jobs.list(JobFilter(**filters), limit, 1, None).jobs]

    def events(self) -> list[dict[str, str]]:
        entries = self.redis.xrange(keys.EVENTS)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]

    def members(self, key: str) -> list[str]:
        if self.redis.type(key) == b"list":
            return [m.decode() for m in self.redis.lrange(key, 0, -1)]
        return [m.decode() for m in self.redis.zrange(key, 0, -1)]


def ok(job: ClaimedJob, result: Any = None, seconds: float = 0.5) -> Outcome:
    return Outcome(job, "ok", seconds, result=json.dumps(result))


def error(job: ClaimedJob, message: str = "RuntimeError: boom", seconds: float = 0.5) -> Outcome:
    return Outcome(job, "error", seconds, error=message, trace=["Traceback ...", message])


def task_of(job: ClaimedJob) -> tuple[str, dict[str, Any]]:
    return decode_data(job.data)


def make_machine(
    keep: int = 1000, delays: tuple[float, ...] = (0.0, 10.0, 60.0), ttl_s: int = 3600
) -> Machine:
    redis = fakeredis.FakeRedis()
    clock = Clock()
    scripts = Scripts(redis, clock_us=clock)
    retention = Retention(ttl_s, {"completed": keep, "failed": keep, "canceled": keep}, delays)
    return Machine(redis, clock, scripts, retention, JobStore(redis, scripts, retention))
