"""The pre-started child process that runs tasks; killed and replaced on cancel or timeout."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import signal
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from app.cli import LOG_FORMAT
from app.settings import Settings
from app.store.codec import cap_trace
from app.store.connection import connect
from app.store.logs import LogStore
from app.store.scripts import Scripts
from app.store.workers import report_progress
from app.tasks import JobContext, TaskRegistry, load_task_modules
from app.tasks.context import set_current_job
from workers.logs import LogCapture, finish_job
from workers.logs import install as install_capture

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
PROGRESS_MIN_INTERVAL_S = 0.05


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent goes, so an orphaned child never keeps running a job."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class ProgressReporter:
    """Writes a task's progress to Redis, at most every 50 ms (the last value is always written)."""

    def __init__(self, scripts: Scripts, job_id: str, exec_id: str) -> None:
        self.scripts, self.job_id, self.exec_id = scripts, job_id, exec_id
        self._last_write = 0.0
        self._pending: tuple[float, str | None] | None = None

    def report(self, percent: float, step: str | None) -> None:
        self._pending = (percent, step)
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_MIN_INTERVAL_S or step is not None:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        percent, step = self._pending
        self._pending = None
        self._last_write = time.monotonic()
        try:
            report_progress(self.scripts, self.job_id, self.exec_id, percent, step)
        except Exception:  # progress is advisory: Redis trouble must not fail the task
            log.warning("job %s: could not record progress", self.job_id, exc_info=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def run_task(registry: TaskRegistry, msg: dict[str, Any], reporter: Any, max_result: int) -> dict[str, Any]:
    """Run one task; returns the reply the parent reads (never raises)."""
    task = registry.get(msg["task"])
    ctx = JobContext(
        msg["id"], msg["attempt"], msg["queue"], msg["task"], reporter.report if reporter else None
    )
    kwargs = dict(msg["params"])
    if task.context_param:
        kwargs[task.context_param] = ctx
    set_current_job(ctx)
    try:
        value = task.fn(**kwargs)
    except BaseException as e:  # a task's sys.exit() or KeyboardInterrupt fails the job, not the child
        return {"ok": False, "error": _one_line(e), "trace": cap_trace(traceback.format_exception(e))}
    finally:
        if reporter:
            reporter.flush()
        set_current_job(None)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as e:
        return {"ok": False, "error": f"Result is not JSON serializable: {e}"}
    if len(text) > max_result:
        return {"ok": False, "error": f"Result too large: {len(text)} bytes (limit {max_result})"}
    return {"ok": True, "result": text}


def child_main(conn: Connection, settings: Settings) -> None:
    """Entry point of the child: read a job, run it, answer; until the pipe closes."""
    os.setpgrp()
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    registry = load_task_modules(settings.task_modules)
    scripts = Scripts(connect(settings, name="jobline-child"))
    capture = LogCapture(LogStore(scripts), max(1, settings.log_lines), settings.log_line_chars)
    tees = install_capture(capture, settings.log_level, LOG_FORMAT) if settings.log_lines else []
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        msg = json.loads(raw)
        reporter = ProgressReporter(scripts, msg["id"], msg["exec"])
        if settings.log_lines:
            capture.begin(msg["id"], msg["exec"])
        try:
            reply = run_task(registry, msg, reporter, settings.max_result_bytes)
        finally:
            finish_job(capture, tees)  # every line is stored before the parent hears of the end
        conn.send_bytes(json.dumps(reply).encode())


class ChildProcess:
    """Parent-side handle of the child: start, send a job, wait for the answer, kill and replace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["app.tasks.demo", "workers.child", *settings.task_modules])
        self._proc: Any = None
        self._conn: Connection | None = None
        self.jobs_run = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=child_main, args=(child_end, self.settings), daemon=True)
        proc.start()
        child_end.close()
        self._proc, self._conn, self.jobs_run = proc, parent_end, 0

    def ensure_started(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            self.stop()
            self.start()

    def send(self, msg: dict[str, Any]) -> None:
        """Hand a job to the child; a child found dead on the way is replaced once."""
        data = json.dumps(msg).encode()
        try:
            assert self._conn is not None
            self._conn.send_bytes(data)
        except OSError:
            log.warning("child process %s was gone; starting a new one", self.pid)
            self.restart()
            assert self._conn is not None
            self._conn.send_bytes(data)
        self.jobs_run += 1

    def poll(self, timeout_s: float) -> bool:
        assert self._conn is not None
        return self._conn.poll(max(0.0, timeout_s))

    def recv(self) -> dict[str, Any]:
        """The child's reply; EOFError when it died."""
        assert self._conn is not None
        return json.loads(self._conn.recv_bytes())

    def exit_description(self) -> str:
        if self._proc is None:
            return "no child process"
        self._proc.join(timeout=1.0)
        code = self._proc.exitcode
        if code is None:
            return "child process stopped answering"
        if code < 0:
            return f"child process killed by signal {-code} ({signal.Signals(-code).name})"
        return f"child process exited with code {code}"

    def kill(self) -> None:
        """SIGKILL the child and everything it started (its own process group); safe from any thread."""
        # It only signals: the main thread replaces the child (restart) once it has seen it die.
        proc = self._proc
        if proc is not None:
            _kill_group(proc.pid)

    def restart(self) -> None:
        """Kill the child if it is still there and start a fresh one (after a cancel, timeout or crash)."""
        # Unconditional: right after a kill, is_alive() can still say True (the forkserver reports the
        # exit a moment later), and keeping that child broke the next job's send (the worker died).
        self.kill()
        self.stop()
        self.start()

    def stop(self) -> None:
        """Close the pipe (the child exits by itself), then make sure it is gone."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.join(timeout=2.0)
            if proc.is_alive():
                _kill_group(proc.pid)
                proc.join(timeout=5.0)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
