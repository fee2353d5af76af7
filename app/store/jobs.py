"""Jobs in Redis: create, read, list, cancel, retry and delete, each one script or one pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from app import keys
from app.errors import InvalidError
from app.models import Job, JobFilter, JobSpec
from app.store.codec import decode_job, encode_data, spec_fields
from app.store.listing import decode_cursor, encode_cursor, page_request, plan_listing
from app.store.readahead import ReadAhead
from app.store.scripts import Scripts

IDEMPOTENCY_TTL_S = 24 * 3600


@dataclass(frozen=True)
class SubmitOutcome:
    """What a submit did: `created`, `duplicate` (idempotent replay) or `conflict` (same key, other body)."""

    outcome: str
    job_id: str


@dataclass(frozen=True)
class ListingResult:
    jobs: list[Job]
    total: int
    pending_count: int
    running_count: int
    next_cursor: str | None
    reads: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Retention:
    """What the control scripts need to know to finish a job: result TTL and how many to keep."""

    ttl_s: int
    keep: dict[str, int]
    delays_s: tuple[float, ...]

    def to_json(self) -> str:
        return json.dumps({"ttl": self.ttl_s, "keep": self.keep, "delays": list(self.delays_s)})


class JobStore:
    """The only code that reads and writes job state in Redis."""

    def __init__(self, redis: Redis, scripts: Scripts, retention: Retention) -> None:
        self.redis = redis
        self.scripts = scripts
        self.retention = retention
        self._retention_json = retention.to_json()

    def submit(
        self, job_id: str, spec: JobSpec, run_at_s: float | None, idempotency: tuple[str, str] | None = None
    ) -> SubmitOutcome:
        """Create the job: pending, or scheduled when `run_at_s` is ahead; honours an idempotency key."""
        script_keys = [keys.job(job_id)]
        body_hash = ""
        if idempotency is not None:
            script_keys.append(keys.idempotency(spec.actor, idempotency[0]))
            body_hash = idempotency[1]
        args = [
            job_id,
            json.dumps(spec_fields(spec), separators=(",", ":")),
            encode_data(spec.task, spec.params),
            "" if run_at_s is None else f"{run_at_s:.6f}",
            body_hash,
            IDEMPOTENCY_TTL_S,
        ]
        outcome, found_id = self.scripts.run("submit", script_keys, args)
        return SubmitOutcome(outcome.decode(), found_id.decode())

    def find(self, job_id: str) -> Job | None:
        raw: dict[bytes, bytes] = self.redis.hgetall(keys.job(job_id))  # type: ignore[assignment]
        return decode_job(job_id, raw) if raw else None

    def read_ahead(self, job_id: str) -> ReadAhead[Job | None]:
        """`find`, as a read that rides in another pipeline (app/store/readahead.py)."""
        key = keys.job(job_id)
        return ReadAhead(lambda pipe: pipe.hgetall(key), lambda raw: decode_job(job_id, raw) if raw else None)

    def find_many(self, job_ids: list[str]) -> list[Job | None]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(keys.job(job_id))
        return [decode_job(i, raw) if raw else None for i, raw in zip(job_ids, pipe.execute(), strict=True)]

    def cancel(self, job_id: str) -> tuple[str, str | None]:
        """('ok', previous state) | ('missing', None) | ('conflict', state)."""
        return self._control("cancel", job_id, self._retention_json, "0")

    def retry(self, job_id: str) -> tuple[str, str | None]:
        return self._control("retry", job_id)

    def delete(self, job_id: str, force: bool) -> tuple[str, str | None]:
        return self._control("delete", job_id, "1" if force else "0")

    def _control(self, script: str, job_id: str, *args: Any) -> tuple[str, str | None]:
        reply = self.scripts.run(script, [keys.job(job_id)], [job_id, *args])
        state = reply[1].decode() if len(reply) > 1 else None
        return reply[0].decode(), state

    def list(
        self,
        f: JobFilter,
        limit: int,
        page: int | None,
        cursor: str | None,
        reads: list[list[str]] | None = None,
    ) -> ListingResult:
        """One page of jobs matching `f`, by page number or cursor, with totals; one round trip, which
        also answers `reads` (O(1) reads such as a queue's counts, see page.lua)."""
        plan = plan_listing(f)
        position = decode_cursor(cursor) if cursor else None
        if position is not None and position[0] > len(plan.segments):
            raise InvalidError("Invalid request", {"cursor": ["Malformed cursor."]})
        offset = None if position else ((page or 1) - 1) * limit
        request = page_request(plan, limit, offset, position, reads)
        reply = self.scripts.run("page", [], [request])
        meta = json.loads(reply[0])
        jobs = []
        for job_id, flat in zip(meta["ids"], reply[1:], strict=True):
            if flat:
                jobs.append(decode_job(job_id, _pairs(flat)))
        counts = meta["counts"]
        return ListingResult(
            jobs,
            sum(meta["totals"]),
            counts[0],
            counts[1],
            encode_cursor(meta.get("next")),
            list(meta.get("reads") or []),
        )


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}
