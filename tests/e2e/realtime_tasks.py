"""Tasks for the real-time end-to-end tests (loaded with JOBLINE_TASK_MODULES)."""

from __future__ import annotations

import logging
import sys

from app.tasks import task

log = logging.getLogger("tests.chatty")


@task("test.chatty")
def chatty(lines: int = 3) -> int:
    """Write through print, logging and stderr, interleaved."""
    for i in range(lines):
        print(f"printed {i}")
        log.warning("logged %d", i)
    sys.stderr.write("to stderr\n")
    return lines
