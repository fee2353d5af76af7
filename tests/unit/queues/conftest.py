"""Fixtures of the queues tests: an in-process 'worker' that drives jobs through claim.lua on fakeredis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.services.wiring import retention_of
from app.settings import Settings
from app.store.scripts import Scripts
from app.store.workers import Outcome, WorkerStore


class Driver:
    """Takes jobs of some queues and finishes them the way a worker would, one claim.lua call each."""

    def __init__(self, redis: Any, settings: Settings, queues: tuple[str, ...], clock_us: Any = None) -> None:
        self.store = WorkerStore(
            redis,
            Scripts(redis, clock_us),
            "unit-worker",
            queues,
            retention_of(settings),
            settings.lease_s,
            int(settings.lease_s),
        )

    def run(self, kind: str = "ok", n: int = 1, mode: str = "take") -> list[str]:
        """Take up to `n` jobs and end each with `kind` (ok | error); returns their ids."""
        done = []
        for _ in range(n):
            claim = self.store.claim(uuid.uuid4().hex[:16], None, mode)
            if claim.job is None:
                break
            result = "null" if kind == "ok" else None
            outcome = Outcome(claim.job, kind, 0.05, result=result, error="RuntimeError: boom", trace=["t"])
            self.store.claim(uuid.uuid4().hex[:16], outcome, "none")
            done.append(claim.job.id)
        return done

    def start(self) -> str | None:
        """Take one job and leave it running."""
        claim = self.store.claim(uuid.uuid4().hex[:16], None, "take")
        return claim.job.id if claim.job else None

    def maintain(self) -> None:
        self.store.claim(uuid.uuid4().hex[:16], None, "maint")


@pytest.fixture
def driver(app: Any, fake_redis: Any, settings: Settings) -> Any:
    def make(*queues: str, clock_us: Any = None, settings_: Settings | None = None) -> Driver:
        return Driver(fake_redis, settings_ or settings, queues or ("default",), clock_us)

    return make


def token_for(app: Any, role: str, name: str = "") -> dict[str, str]:
    """A login token of a (new) user with `role`."""
    auth = app.extensions["jobline"].auth
    user = auth.users.create(name or f"user-{role}", f"{role}-password-123", role)
    return {"Authorization": f"Bearer {auth.issue(user).token}"}


def submit(client: Any, auth: dict[str, str], queue: str = "default", **body: Any) -> str:
    body.setdefault("task", "demo.noop")
    reply = client.post("/api/v1/jobs", json={"queue": queue, **body}, headers=auth)
    assert reply.status_code == 201, reply.get_json()
    return str(reply.get_json()["id"])


def _holds(redis: Any, raw: bytes, job_id: str) -> bool:
    kind = redis.type(raw).decode()
    if kind == "zset":
        members = [m.decode() for m in redis.zrange(raw, 0, -1)]
        return any(m == job_id or m.startswith(job_id + ":") for m in members)
    if kind == "set":
        return bool(redis.sismember(raw, job_id))
    if kind == "list":
        return job_id.encode() in redis.lrange(raw, 0, -1)
    return False


def keys_mentioning(redis: Any, job_id: str) -> list[str]:
    """Every key that is about `job_id` or holds it (the bounded events stream aside)."""
    return sorted(
        raw.decode()
        for raw in redis.scan_iter(count=1000)
        if job_id in raw.decode() or _holds(redis, raw, job_id)
    )
