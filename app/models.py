"""Domain values shared by the API, services, workers and scheduler: statuses, job specs and views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.errors import InvalidError


class JobStatus(StrEnum):
    """A job's status as the API names it."""

    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @classmethod
    def parse(cls, raw: str) -> JobStatus:
        """Accept a status or one of its aliases, any case; InvalidError otherwise."""
        word = raw.strip().lower()
        status = STATUS_ALIASES.get(word)
        if status is None:
            allowed = ", ".join(s.value for s in cls)
            raise InvalidError(
                "Invalid request", {"status": [f"Unknown status {raw!r}; use one of {allowed}."]}
            )
        return status


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
# Order of the unfiltered listing: running, pending, scheduled, then terminal jobs newest first.
LISTING_ORDER = (JobStatus.RUNNING, JobStatus.PENDING, JobStatus.SCHEDULED)

STATUS_ALIASES: dict[str, JobStatus] = {s.value: s for s in JobStatus} | {
    "waiting": JobStatus.PENDING,
    "queued": JobStatus.PENDING,
    "created": JobStatus.PENDING,
    "active": JobStatus.RUNNING,
    "started": JobStatus.RUNNING,
    "delayed": JobStatus.SCHEDULED,
    "deferred": JobStatus.SCHEDULED,
    "finished": JobStatus.COMPLETED,
    "succeeded": JobStatus.COMPLETED,
    "cancelled": JobStatus.CANCELED,
    "aborted": JobStatus.CANCELED,
    "stopped": JobStatus.CANCELED,
}

# rq's status words (stored in the job hash) and Jobline's.
RQ_STATUS = {
    JobStatus.SCHEDULED: "scheduled",
    JobStatus.PENDING: "queued",
    JobStatus.RUNNING: "started",
    JobStatus.COMPLETED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}
FROM_RQ_STATUS = {v: k for k, v in RQ_STATUS.items()} | {
    "deferred": JobStatus.SCHEDULED,
    "stopped": JobStatus.CANCELED,
    "created": JobStatus.PENDING,
}


class Trigger(StrEnum):
    """How a job came to be: asked for by a client, or made by a workflow's interval or cron."""

    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"

    @classmethod
    def parse(cls, raw: str) -> Trigger:
        try:
            return cls(raw.strip().upper())
        except ValueError:
            raise InvalidError("Invalid request", {"trigger": ["Must be MANUAL or AUTOMATIC."]}) from None


PRIORITY_MIN, PRIORITY_MAX = -5, 5


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to create a job; validated before it reaches the store."""

    task: str
    queue: str = "default"
    params: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    max_retries: int = 3
    timeout_s: int = 30
    scheduled_at: datetime | None = None
    title: str = ""
    description: str = ""
    actor: str = ""
    trigger: Trigger = Trigger.MANUAL
    workflow_id: str | None = None
    workflow_name: str | None = None
    input_data: list[Any] | None = None


# Job and Attempt are the one exception to frozen models: a page decodes 50+ of them from Redis, and a frozen
# dataclass's __init__ sets each field through object.__setattr__ (~2.7 us more per Job, 29 fields: about a
# fifth of decoding one). Treat them as read-only all the same; nothing assigns to their fields.
@dataclass
class Attempt:
    """One finished attempt of a job, kept in its history."""

    attempt: int
    status: str
    error: str | None
    worker_id: str | None
    started_at: datetime | None
    completed_at: datetime | None


@dataclass
class Job:
    """A job as clients see it, read from its rq job hash."""

    id: str
    queue: str
    task: str
    status: JobStatus
    params: dict[str, Any]
    title: str
    description: str
    actor: str
    trigger: Trigger
    workflow_id: str | None
    workflow_name: str | None
    priority: int
    retry_count: int
    max_retries: int
    timeout_s: int
    progress: float | None
    current_step: str | None
    result: Any
    error: str | None
    stacktrace: list[str] | None
    worker_id: str | None
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    history: list[Attempt]
    input_data: list[Any] | None = None
    run_at: datetime | None = None  # when a scheduled job (or a waiting retry) becomes pending

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return max(0, round((self.completed_at - self.started_at).total_seconds() * 1000))


@dataclass(frozen=True)
class JobFilter:
    """Filters of a job listing; None means any."""

    status: JobStatus | None = None
    queue: str | None = None
    task: str | None = None
    trigger: Trigger | None = None
    workflow_id: str | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of a job listing with the counts that go with it."""

    jobs: list[Job]
    total: int
    pending_count: int
    running_count: int
    next_cursor: str | None
    page: int | None
    limit: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.limit))


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user or an API token, with its role and optional queue scope."""

    name: str
    role: str
    kind: str = "user"
    queues: tuple[str, ...] | None = None
    rate_limit_per_min: int | None = None  # None: JOBLINE_RATE_LIMIT applies
    key: str = ""  # a stable id for rate limits: `user:<login>`, `token:<id>`

    def may_see_queue(self, queue: str) -> bool:
        return self.queues is None or queue in self.queues


ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class User:
    """A person who logs in with a password; `stamp` changes whenever their tokens must stop working."""

    login: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    password_hash: str = field(default="", repr=False)
    stamp: str = field(default="", repr=False)


@dataclass(frozen=True)
class ApiToken:
    """An API token for machines: its secret is shown once and only its SHA-256 is stored."""

    id: str
    name: str
    role: str
    queues: tuple[str, ...] | None
    created_at: datetime
    created_by: str
    rate_limit_per_min: int | None = None
    secret_hash: str = field(default="", repr=False)


@dataclass(frozen=True)
class WorkerInfo:
    """A live worker process as /workers shows it."""

    name: str
    hostname: str
    pid: int | None
    state: str
    queues: list[str]
    current_job_id: str | None
    last_heartbeat: datetime | None
    started_at: datetime | None
    successful_jobs: int
    failed_jobs: int
    total_working_time_s: float
    cpu_percent: float = 0.0
    memory_mb: float = 0.0


class WorkflowStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class WorkflowSpec:
    """A saved job definition and its optional automatic trigger (interval or cron)."""

    name: str
    task: str
    queue: str = "default"
    params: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    timeout_s: int = 30
    max_retries: int = 3
    interval_s: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    max_consecutive_failures: int = 0
    description: str = ""
    overlap: str = "allow"  # "skip": no automatic run while the previous run has not ended


@dataclass(frozen=True)
class Workflow:
    """A workflow as clients see it."""

    id: str
    spec: WorkflowSpec
    status: WorkflowStatus
    paused_reason: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    run_count: int
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    version: int
    anchor_ms: int
    skipped_runs: int = 0


@dataclass(frozen=True)
class QueueInfo:
    """A queue as /queues shows it: pause flag, live workers serving it, and its jobs counted by status."""

    name: str
    paused: bool
    workers: int
    counts: dict[str, int]
    retrying: int = 0


# --- real time: change events and captured log lines -----------------------------------------------

DELETED = "deleted"  # the status a change event carries when its job was deleted


@dataclass(frozen=True)
class ChangeEvent:
    """One change of a job as published on the events stream; `entry_id` is the stream entry's id."""

    entry_id: str
    job_id: str
    queue: str
    status: str  # a JobStatus value, or DELETED
    progress: float | None
    current_step: str | None
    timestamp: datetime

    @property
    def final(self) -> bool:
        """True when no further change of this job will follow (terminal or deleted)."""
        return self.status == DELETED or self.status in TERMINAL


@dataclass(frozen=True)
class LogLine:
    """One captured line of a job's output; `offset` counts from the job's first line, trimming aside."""

    offset: int
    ts: datetime
    level: str
    message: str


@dataclass(frozen=True)
class LogChunk:
    """Lines of a job's log from some offset, and the offset to ask for next."""

    lines: list[LogLine]
    next_offset: int
