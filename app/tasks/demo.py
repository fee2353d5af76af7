"""Built-in demo tasks, always registered: demo.noop, demo.echo, demo.sleep, demo.fail, demo.progress."""

from __future__ import annotations

import logging
import time
from typing import Any

from app.tasks.context import report_progress
from app.tasks.registry import task

log = logging.getLogger("jobline.demo")


@task("demo.noop")
def noop() -> None:
    """Do nothing (throughput benchmarks)."""
    return None


@task("demo.echo")
def echo(**params: Any) -> dict[str, Any]:
    """Return the params as given."""
    return params


@task("demo.sleep")
def sleep(seconds: float = 1.0) -> dict[str, float]:
    """Sleep `seconds`, then return how long it slept."""
    started = time.monotonic()
    time.sleep(max(0.0, seconds))
    return {"slept": round(time.monotonic() - started, 3)}


class DemoFailure(RuntimeError):
    """Raised by demo.fail on purpose."""


@task("demo.fail")
def fail(message: str = "demo failure") -> None:
    """Raise an error with `message`."""
    raise DemoFailure(message)


@task("demo.progress")
def progress(steps: int = 5, delay: float = 0.5) -> dict[str, int]:
    """Work through `steps` steps of `delay` seconds each, reporting progress after each."""
    steps = max(1, int(steps))
    for step in range(1, steps + 1):
        time.sleep(max(0.0, delay))
        log.info("finished step %d of %d", step, steps)
        report_progress(100.0 * step / steps, f"Step {step} of {steps}")
    return {"steps": steps}
