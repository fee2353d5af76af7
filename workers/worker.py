"""The Jobline worker: rq's worker registration, heartbeat and command channel, with a faster run loop.

Each job costs one Redis round trip (claim.lua records the last outcome and takes the next job) and
runs in a pre-started child process that is killed and replaced on cancel or timeout.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.worker import BaseWorker, WorkerStatus

from app.settings import Settings
from app.store.codec import BadJobData, decode_data
from app.store.connection import config_advice
from app.store.queues import register_names
from app.store.roster import prune_dead
from app.store.workers import ClaimedJob, Outcome, WorkerStore
from app.tasks import TaskRegistry
from workers.child import ChildProcess
from workers.resources import ResourceMeter

log = logging.getLogger(__name__)
MAINTENANCE_EVERY_S = 30.0
PRECISE_SLEEP_BELOW_S = 0.25
STOP_REDIS_PATIENCE_S = 10.0
COMMAND_POLL_S = 0.5


class JoblineWorker(BaseWorker):
    """One worker process: takes jobs from its queues in order, one at a time, until told to stop."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        store: WorkerStore,
        tasks: TaskRegistry,
        name: str,
        child: Any = None,
    ) -> None:
        super().__init__(list(store.queues), name=name, connection=redis, worker_ttl=int(settings.lease_s))
        self.settings = settings
        self.store = store
        self.tasks = tasks
        self.child = child if child is not None else ChildProcess(settings)
        self._current: ClaimedJob | None = None
        self._stop_at: float | None = None
        self._next_maintenance = 0.0
        self._waiting = False
        self._job_lock = threading.Lock()
        self._meter = ResourceMeter()

    # --- hooks rq's command handlers call (stop-job, kill-horse) -------------------------------------
    def get_current_job_id(self) -> str | None:
        return self._current.id if self._current else None

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """rq's stop-job handler (pubsub thread): kill the child only while it still runs that job."""
        with self._job_lock:  # the main thread cannot switch to the next job while we decide and kill
            current = self._current
            if current is not None and current.id == self._stopped_job_id:
                self.child.kill()

    def handle_payload(self, message: dict[str, Any]) -> None:
        """rq's command channel (pubsub thread): a malformed message is dropped, not fatal to the listener."""
        try:
            super().handle_payload(message)
        except Exception as e:  # rq lets it end the thread: cancels would then wait for a heartbeat
            log.warning(
                "worker %s: ignored a malformed command (%s): %.200r", self.name, e, message.get("data")
            )

    def subscribe(self) -> None:
        """rq's command channel, listened to by a thread that wakes every 0.5 s (so it stops promptly)."""
        self._unsubscribing = False
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=COMMAND_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def unsubscribe(self) -> None:
        self._unsubscribing = True
        super().unsubscribe()

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        """Keep listening through Redis trouble (redis-py resubscribes); end quietly when unsubscribing."""
        if getattr(self, "_unsubscribing", False):
            pubsub_thread.stop()
            return
        log.warning("worker %s: command channel error (%s); listening again in 2 s", self.name, exc)
        time.sleep(2.0)

    # --- signals ------------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._waiting:
            self._stop_at = time.monotonic()
            raise _WakeUp()  # leave a blocking wait at once; nothing is in flight while idle
        now = time.monotonic()
        if self._stop_at is None:
            self._stop_at = now + (self.settings.shutdown_grace_s if self._current else 0.0)
            log.info(
                "worker %s: stopping (signal %s); a running job gets %.0f s to finish",
                self.name,
                signal.Signals(signum).name,
                self.settings.shutdown_grace_s,
            )
        else:
            self._stop_at = now
            log.warning("worker %s: stopping now; the running job goes back to its queue", self.name)

    @property
    def stopping(self) -> bool:
        return self._stop_at is not None

    # --- main loop ------------------------------------------------------------------------------------
    def run(self, burst: bool = False) -> None:
        """Register, serve the queues until stopped (or until empty with `burst`), unregister."""
        self.child.ensure_started()  # first: a worker is listed only once it can take jobs
        register_names(self.connection, self.store.queues)
        pruned = prune_dead(self.connection, self.store.queues)
        if pruned:
            log.info("worker %s: dropped %d dead worker(s) from the roster", self.name, pruned)
        self.register_birth()
        self.store.heartbeat(None)  # rq set worker_ttl + 60 s: a killed worker must go after the lease
        self.subscribe()
        self._install_signal_handlers()
        self.set_state(WorkerStatus.IDLE)
        log.info("worker %s: serving %s (pid %s)", self.name, ", ".join(self.store.queues), self.pid)
        for advice in config_advice(self.connection):
            log.warning("worker %s: %s", self.name, advice)
        try:
            self._loop(burst)
        finally:
            self._teardown()

    def _loop(self, burst: bool) -> None:
        outcome: Outcome | None = None
        while True:
            mode = self._mode()
            try:
                claim = self.store.claim(uuid.uuid4().hex[:16], outcome, mode)
            except RedisError as e:
                if self._give_up(e):
                    return
                continue  # try again with the same outcome: it is recorded exactly once
            if outcome is not None and claim.finished == "stale":
                log.info(
                    "job %s: outcome dropped, the job was canceled or taken over meanwhile", outcome.job.id
                )
            outcome = None
            if claim.job is not None:
                outcome = self._execute(claim.job)
            elif self.stopping or burst:
                return
            else:
                self._report_resources()
                self._idle(claim.due_in_s)

    def _mode(self) -> str:
        """take: claim the next job; maint: also trim retention; none: only record the outcome."""
        now = time.monotonic()
        if self.stopping:
            return "none"
        if now >= self._next_maintenance:
            self._next_maintenance = now + MAINTENANCE_EVERY_S
            return "maint"
        return "take"

    def _give_up(self, error: RedisError) -> bool:
        """Wait a second after a Redis error; True when stopping and Redis stayed away too long."""
        log.warning("worker %s: Redis unreachable (%s); retrying in 1 s", self.name, error)
        time.sleep(1.0)
        if self._stop_at is not None and time.monotonic() > self._stop_at + STOP_REDIS_PATIENCE_S:
            log.error(
                "worker %s: stopping without reaching Redis; a running job is recovered by its lease",
                self.name,
            )
            return True
        return False

    def _idle(self, due_in_s: float | None) -> None:
        wait = self.settings.heartbeat_s
        if due_in_s is not None:
            wait = min(wait, max(0.0, due_in_s))
        self._waiting = True
        try:
            if self.stopping:
                return
            if wait < PRECISE_SLEEP_BELOW_S:
                time.sleep(wait)  # Redis times out blocked clients at its own tick (~100 ms); sleep here
            else:
                self.store.wait_for_work(wait)
        except _WakeUp:
            # the interrupted BLPOP left a reply unread on its (released) connection; the command channel's
            # connection is in use and stays
            self.store.redis.connection_pool.disconnect(inuse_connections=False)
        except RedisError as e:
            log.warning("worker %s: Redis unreachable (%s); retrying in 1 s", self.name, e)
            time.sleep(1.0)
        finally:
            self._waiting = False

    # --- one job --------------------------------------------------------------------------------------
    def _execute(self, job: ClaimedJob) -> Outcome:
        started = time.monotonic()
        try:
            task, params = decode_data(job.data)
        except BadJobData as e:
            log.error("job %s refused: %s", job.id, e)
            return Outcome(job, "refused", 0.0, error=f"Refused: {e}")
        if task not in self.tasks:
            log.error("job %s refused: task %r is not registered in this worker", job.id, task)
            hint = "register it with @task in a module listed in JOBLINE_TASK_MODULES"
            return Outcome(job, "refused", 0.0, error=f"Refused: task {task!r} is not registered ({hint})")
        with self._job_lock:
            self._current = job
        log.info("job %s: running %s (attempt %d)", job.id, task, job.attempt)
        try:
            self.child.ensure_started()
            self.child.send(
                {
                    "id": job.id,
                    "exec": job.exec_id,
                    "task": task,
                    "params": params,
                    "queue": job.queue,
                    "attempt": job.attempt,
                }
            )
            outcome = self._supervise(job, started)
        finally:
            with self._job_lock:
                self._current = None
                self._stopped_job_id = None
        log.info("job %s: %s after %.3f s", job.id, outcome.kind, outcome.seconds)
        if self.settings.child_max_jobs and self.child.jobs_run >= self.settings.child_max_jobs:
            self.child.stop()
        return outcome

    def _supervise(self, job: ClaimedJob, started: float) -> Outcome:
        deadline = started + job.timeout_s
        next_beat = started + self.settings.heartbeat_s
        while True:
            now = time.monotonic()
            if now >= deadline:
                return self._kill(job, started, "error", f"Timeout after {job.timeout_s} s")
            if self._stop_at is not None and now >= self._stop_at:
                return self._kill(job, started, "interrupted", "worker shut down before the job finished")
            limit = min(deadline, next_beat, self._stop_at or deadline)
            if self.child.poll(limit - now):
                return self._reply(job, started)
            if self._stopped_job_id == job.id:
                return self._kill(job, started, "canceled", "canceled")
            if time.monotonic() >= next_beat:
                next_beat += self.settings.heartbeat_s
                if not self._beat(job):
                    return self._kill(job, started, "canceled", "the job was canceled or taken over")

    def _reply(self, job: ClaimedJob, started: float) -> Outcome:
        elapsed = time.monotonic() - started
        try:
            reply = self.child.recv()
        except (EOFError, OSError):
            if self._stopped_job_id == job.id:
                self.child.restart()
                return Outcome(job, "canceled", elapsed, error="canceled")
            reason = self.child.exit_description()
            self.child.restart()
            return Outcome(job, "error", elapsed, error=f"Worker {reason} while running the job")
        if reply.get("ok"):
            return Outcome(job, "ok", elapsed, result=reply["result"])
        return Outcome(job, "error", elapsed, error=reply.get("error"), trace=reply.get("trace"))

    def _kill(self, job: ClaimedJob, started: float, kind: str, error: str) -> Outcome:
        self.child.restart()
        return Outcome(job, kind, time.monotonic() - started, error=error)

    def _report_resources(self) -> None:
        if not self._meter.due():
            return
        try:
            self.store.report_resources(*self._meter.sample(self.child.pid))
        except RedisError as e:
            log.debug("worker %s: could not report resources (%s)", self.name, e)

    def _beat(self, job: ClaimedJob) -> bool:
        self._report_resources()
        try:
            return self.store.heartbeat(job)
        except RedisError as e:
            log.warning("job %s: heartbeat failed (%s); the job keeps running", job.id, e)
            return True

    def _teardown(self) -> None:
        self.child.stop()
        try:
            self.unsubscribe()
            self.register_death()
        except RedisError as e:
            log.warning("worker %s: could not unregister (%s); its key expires by itself", self.name, e)
        log.info("worker %s: stopped", self.name)


class _WakeUp(Exception):
    """Raised by the stop signal handler to leave an idle wait."""
