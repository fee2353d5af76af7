"""The jobs domain: submit with validation and idempotency, read, list, cancel, retry and delete."""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from app.errors import ConflictError, InvalidError, NotFoundError
from app.models import Job, JobFilter, JobPage, JobSpec
from app.settings import QUEUE_NAME_RE
from app.store.jobs import JobStore
from app.store.readahead import ReadAhead
from app.tasks.registry import TaskRegistry

log = logging.getLogger(__name__)

SCHEDULE_PAST_S = 5
SCHEDULE_AHEAD = timedelta(days=366)
ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def valid_id(job_id: str) -> bool:
    """Job ids follow rq's rule: [A-Za-z0-9_-]{1,64}."""
    return 0 < len(job_id) <= 64 and set(job_id) <= ID_CHARS


def check_schedule(scheduled_at: datetime | None, now: datetime, field: str = "scheduledAt") -> None:
    """A planned time may be at most 5 s in the past and at most 366 days ahead."""
    if scheduled_at is None:
        return
    if scheduled_at < now - timedelta(seconds=SCHEDULE_PAST_S):
        raise InvalidError(
            "Invalid request", {field: [f"Must not be more than {SCHEDULE_PAST_S} s in the past."]}
        )
    if scheduled_at > now + SCHEDULE_AHEAD:
        raise InvalidError("Invalid request", {field: ["Must be at most 366 days ahead."]})


def body_fingerprint(spec: JobSpec) -> str:
    """What makes two submits 'the same body' for an idempotency key."""
    data = asdict(spec)
    data.pop("actor", None)
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class JobService:
    """Rules about jobs; the API and the scheduler both come through here."""

    def __init__(
        self, store: JobStore, tasks: TaskRegistry, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.clock = clock or (lambda: datetime.now(UTC))

    def validate(self, spec: JobSpec) -> None:
        """Raise InvalidError unless `spec` names a registered task with matching params and sane values."""
        if not QUEUE_NAME_RE.match(spec.queue):
            raise InvalidError(
                "Invalid request", {"queue": ["Must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$."]}
            )
        self.tasks.get(spec.task).check_params(spec.params)
        check_schedule(spec.scheduled_at, self.clock())

    def submit(self, spec: JobSpec, idempotency_key: str | None = None) -> tuple[Job, bool]:
        """Create a job; returns (job, created). A replayed idempotency key returns the first job."""
        self.validate(spec)
        job_id = str(uuid.uuid4())
        run_at = spec.scheduled_at.timestamp() if spec.scheduled_at else None
        idem = (idempotency_key, body_fingerprint(spec)) if idempotency_key else None
        outcome = self.store.submit(job_id, spec, run_at, idem)
        if outcome.outcome == "conflict":
            raise ConflictError(
                "Idempotency-Key was already used with a different request body",
                {"Idempotency-Key": [f"First used for job {outcome.job_id}."]},
            )
        job = self.get(outcome.job_id)
        if outcome.outcome == "created":
            log.info("job %s submitted: task=%s queue=%s", job.id, job.task, job.queue)
        return job, outcome.outcome == "created"

    def get(self, job_id: str, ahead: ReadAhead[Job | None] | None = None) -> Job:
        """The job; NotFoundError. `ahead` is its read done already (see `read_ahead`), if it was."""
        if ahead is not None and ahead.done:
            job = ahead.value
        else:
            job = self.store.find(job_id) if valid_id(job_id) else None
        if job is None:
            raise NotFoundError("Job not found")
        return job

    def read_ahead(self, job_id: str) -> ReadAhead[Job | None] | None:
        """The job's read, to ride in another round trip (the auth lookup's); None for an invalid id."""
        return self.store.read_ahead(job_id) if valid_id(job_id) else None

    def list(self, f: JobFilter, limit: int, page: int | None = None, cursor: str | None = None) -> JobPage:
        return self.list_and_read(f, limit, page, cursor, [])[0]

    def list_and_read(
        self,
        f: JobFilter,
        limit: int,
        page: int | None,
        cursor: str | None,
        reads: builtins.list[builtins.list[str]],
    ) -> tuple[JobPage, builtins.list[int]]:
        """A page and the answers to `reads` (O(1) reads, e.g. a queue's counts) in one round trip."""
        result = self.store.list(f, limit, page, cursor, reads)
        return JobPage(
            jobs=result.jobs,
            total=result.total,
            pending_count=result.pending_count,
            running_count=result.running_count,
            next_cursor=result.next_cursor,
            page=None if cursor else (page or 1),
            limit=limit,
        ), result.reads

    def cancel(self, job_id: str) -> Job:
        """Cancel a pending, scheduled or running job (a running one's process is stopped)."""
        self._control(
            job_id, self.store.cancel, "cancel", "Only pending, scheduled or running jobs can be canceled"
        )
        log.info("job %s canceled", job_id)
        return self.get(job_id)

    def retry(self, job_id: str) -> Job:
        """Send a failed or canceled job back to pending with the same id."""
        self._control(job_id, self.store.retry, "retry", "Only failed or canceled jobs can be retried")
        log.info("job %s sent back to pending", job_id)
        return self.get(job_id)

    def delete(self, job_id: str, force: bool = False) -> None:
        """Delete a job; a running job only with force (it is stopped first)."""
        self._control(
            job_id,
            lambda i: self.store.delete(i, force),
            "delete",
            "The job is running; cancel it first or pass force=true",
        )
        log.info("job %s deleted", job_id)

    def _control(
        self, job_id: str, action: Callable[[str], tuple[str, str | None]], verb: str, hint: str
    ) -> None:
        if not valid_id(job_id):
            raise NotFoundError("Job not found")
        outcome, state = action(job_id)
        if outcome == "missing":
            raise NotFoundError("Job not found")
        if outcome == "conflict":
            raise ConflictError(f"Cannot {verb} a {state} job", {"status": [hint]})
