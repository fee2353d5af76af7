"""Tasks for the integration tests (loaded through JOBLINE_TASK_MODULES): they leave traces to check."""

from __future__ import annotations

import os
import time

from app.tasks import task


@task("itest.pid_sleep")
def pid_sleep(pidfile: str, seconds: float = 30.0) -> dict[str, int]:
    """Write this process's pid to `pidfile`, then sleep: the test can see whether the process still runs."""
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pidfile + ".tmp", pidfile)
    time.sleep(seconds)
    return {"pid": os.getpid()}
