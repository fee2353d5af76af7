"""Tasks for the integration tests (loaded through JOBLINE_TASK_MODULES): they leave traces to check."""

from __future__ import annotations

import os
import time

from app.tasks import JobContext, task


@task("itest.pid_sleep")
def pid_sleep(pidfile: str, seconds: float = 30.0) -> dict[str, int]:
    """Write this process's pid to `pidfile`, then sleep: the test can see whether the process still runs."""
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pidfile + ".tmp", pidfile)
    time.sleep(seconds)
    return {"pid": os.getpid()}


@task("itest.context")
def context(ctx: JobContext, label: str = "") -> dict[str, object]:
    """Report progress through the injected JobContext and return what it says about the job."""
    ctx.report_progress(50, f"half of {label}")
    return {"id": ctx.job_id, "attempt": ctx.attempt, "queue": ctx.queue, "task": ctx.task}


@task("itest.poison")
def poison() -> None:
    """A poison pill: the process running it dies by SIGKILL, every time (as the OOM killer would do)."""
    import signal  # noqa: PLC0415

    os.kill(os.getpid(), signal.SIGKILL)


@task("itest.ledger")
def ledger(ctx: JobContext, ledger_url: str, seconds: float = 0.3) -> str:
    """Work for `seconds`, then record one side effect (job id and attempt) in a separate Redis database."""
    import redis  # noqa: PLC0415

    time.sleep(seconds)
    entry = f"{ctx.job_id}:{ctx.attempt}"
    redis.Redis.from_url(ledger_url).rpush("ledger", entry)
    return entry
