"""Captures what a task logs and prints, per job, in the worker's child; ships it to Redis in small batches.

Lines are buffered in memory (at most JOBLINE_LOG_LINES; older ones are dropped and counted so offsets
stay absolute) and written by a background thread every 50 ms, in order, one script call per batch. The
job's last lines are written before the child reports the job's end, so a follower that sees the end
has seen every line.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import TextIO

from app.store.logs import LogStore, encode_line

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 0.05
BATCH = 500
FORMATTER = logging.Formatter()
OWN_LOGGERS = (__name__, "workers.child")  # never captured: they report on the capture itself


def cap(message: str, max_chars: int) -> str:
    if len(message) <= max_chars:
        return message
    return f"{message[:max_chars]}... [{len(message) - max_chars} more characters]"


class LogCapture:
    """The current job's captured lines, on their way to its log list in Redis (keys.logs)."""

    def __init__(self, store: LogStore, max_lines: int, max_chars: int, flush_every_s: float = FLUSH_EVERY_S):
        self.store, self.max_lines, self.max_chars = store, max_lines, max_chars
        self.flush_every_s = flush_every_s
        self._lock = threading.Lock()  # guards the buffer and the current job
        self._flush_lock = threading.Lock()  # one flush at a time: batches must arrive in order
        self._lines: deque[str] = deque()
        self._dropped = 0
        self._job: tuple[str, str] | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, job_id: str, exec_id: str) -> None:
        """Capture for this execution from now on."""
        with self._lock:
            self._lines.clear()
            self._dropped = 0
            self._job = (job_id, exec_id)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jobline-log-capture", daemon=True)
            self._thread.start()

    def end(self) -> None:
        """Write what is left, then stop capturing (lines written later belong to no job)."""
        self.flush()
        with self._lock:
            self._job = None
            self._lines.clear()

    def add(self, level: str, message: str, ts: float | None = None) -> None:
        when = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
        line = encode_line(when, level, cap(message, self.max_chars))
        with self._lock:
            if self._job is None:
                return
            if len(self._lines) >= self.max_lines:
                self._lines.popleft()
                self._dropped += 1
            self._lines.append(line)
        self._wake.set()

    def flush(self) -> None:
        with self._flush_lock:
            while True:
                with self._lock:
                    if self._job is None or not self._lines:
                        return
                    job_id, exec_id = self._job
                    batch = [self._lines.popleft() for _ in range(min(BATCH, len(self._lines)))]
                    dropped, self._dropped = self._dropped, 0
                if not self._send(job_id, exec_id, batch, dropped):
                    return

    def _send(self, job_id: str, exec_id: str, batch: list[str], dropped: int) -> bool:
        try:
            written = self.store.append(job_id, exec_id, batch, self.max_lines, dropped)
        except Exception as e:  # logs are advisory: Redis trouble must not fail the task
            log.warning("job %s: could not store %d log lines (%s)", job_id, len(batch), e)
            with self._lock:
                self._dropped += dropped + len(batch)  # offsets stay absolute across the gap
            return False
        if written < 0:  # canceled, deleted or taken over: this execution's lines are no longer wanted
            with self._lock:
                if self._job == (job_id, exec_id):
                    self._job = None
                    self._lines.clear()
            return False
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.flush_every_s)  # gather a batch
            self._wake.clear()
            self.flush()


class CaptureHandler(logging.Handler):
    """Feeds log records of the running task into the capture."""

    def __init__(self, capture: LogCapture, level: int) -> None:
        super().__init__(level)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in OWN_LOGGERS:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + FORMATTER.formatException(record.exc_info)
            self.capture.add(record.levelname, message, record.created)
        except Exception:
            self.handleError(record)


class StreamTee(io.TextIOBase):
    """A replacement sys.stdout / sys.stderr: each line goes to the job's log and on to the real stream."""

    def __init__(self, capture: LogCapture, level: str, target: TextIO) -> None:
        super().__init__()
        self.capture, self.level, self.target = capture, level, target
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        self.target.write(text)
        lines = []
        with self._lock:
            self._partial += text
            while "\n" in self._partial or len(self._partial) > self.capture.max_chars:
                line, sep, rest = self._partial.partition("\n")
                if not sep:
                    line, rest = (
                        self._partial[: self.capture.max_chars],
                        self._partial[self.capture.max_chars :],
                    )
                lines.append(line)
                self._partial = rest
        for line in lines:
            self.capture.add(self.level, line)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def finish(self) -> None:
        """Capture an unterminated last line (called at the end of each job)."""
        with self._lock:
            line, self._partial = self._partial, ""
        if line:
            self.capture.add(self.level, line)

    def fileno(self) -> int:
        return self.target.fileno()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


def install(capture: LogCapture, level_name: str, log_format: str) -> list[StreamTee]:
    """Route this process's logging and stdout/stderr through `capture` (warnings on to the real stderr)."""
    level = logging.getLevelName(level_name.upper())
    root = logging.getLogger()
    root.setLevel(level)
    # The worker's own output keeps what it showed before capture existed: warnings and errors only
    # (the job's log has every line at `level_name`).
    console = logging.StreamHandler(sys.__stderr__)
    console.setLevel(max(level, logging.WARNING))
    console.setFormatter(logging.Formatter(log_format))
    root.addHandler(console)
    root.addHandler(CaptureHandler(capture, level))
    tees = []
    if sys.stdout is not None:
        sys.stdout = StreamTee(capture, "STDOUT", sys.stdout)
        tees.append(sys.stdout)
    if sys.stderr is not None:
        sys.stderr = StreamTee(capture, "STDERR", sys.stderr)
        tees.append(sys.stderr)
    return tees


def finish_job(capture: LogCapture, tees: list[StreamTee]) -> None:
    """After a job: its unterminated lines, then every remaining line, are stored before the reply."""
    for tee in tees:
        tee.finish()
    capture.end()
