"""What a running task can ask about its job and report back: progress and the current step."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

ProgressSink = Callable[[float, "str | None"], None]


@dataclass
class JobContext:
    """The job a task is running for; a task gets it from current_job() or a `ctx` parameter."""

    job_id: str
    attempt: int
    queue: str
    task: str
    _sink: ProgressSink | None = field(default=None, repr=False)

    def report_progress(self, percent: float, step: str | None = None) -> None:
        """Record `percent` (0-100) and optionally the current step's description."""
        percent = max(0.0, min(100.0, float(percent)))
        if self._sink is not None:
            self._sink(percent, step)


_CURRENT: ContextVar[JobContext | None] = ContextVar("jobline_job", default=None)


def current_job() -> JobContext | None:
    """The job being run in this process, or None outside a task."""
    return _CURRENT.get()


def set_current_job(ctx: JobContext | None) -> None:
    _CURRENT.set(ctx)


def report_progress(percent: float, step: str | None = None) -> None:
    """Report progress of the running job; a no-op outside a task (so tasks stay callable in tests)."""
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.report_progress(percent, step)
