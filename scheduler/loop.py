"""The scheduler process, built on rq-scheduler's Scheduler (registration, heartbeat, run loop).

Workflow firing is added by the workflows issue; until then the process registers, heart-beats
and waits, so deployments (Procfile, compose, `jobline dev`) already run it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq_scheduler import Scheduler

from app.settings import Settings
from app.store.connection import connect

log = logging.getLogger(__name__)
HEARTBEAT_S = 5


class JoblineScheduler(Scheduler):  # type: ignore[misc]
    """rq-scheduler's process identity and heartbeat; Jobline's own loop."""

    def __init__(self, redis: Redis, name: str) -> None:
        super().__init__(connection=redis, interval=HEARTBEAT_S, name=name)
        self._stop = threading.Event()

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("scheduler %s: stopping (signal %s)", self.name, signal.Signals(signum).name)
            self._stop.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def run(self, burst: bool = False) -> None:
        self.register_birth()
        self._install_signal_handlers()
        log.info("scheduler %s: started (pid %s)", self.name, os.getpid())
        try:
            while not self._stop.is_set():
                try:
                    self.heartbeat()
                except RedisError as e:
                    log.warning("scheduler %s: Redis unreachable (%s)", self.name, e)
                if burst:
                    return
                self._stop.wait(HEARTBEAT_S)
        finally:
            with contextlib.suppress(RedisError):
                self.register_death()
            log.info("scheduler %s: stopped", self.name)


def run_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    redis = connect(settings, blocking_s=HEARTBEAT_S + 5, name="jobline-scheduler")
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    if args.check:
        alive = any(
            True
            for _ in redis.scan_iter(match=JoblineScheduler.redis_scheduler_namespace_prefix + "*", count=100)
        )
        print("healthy" if alive else "unhealthy: no scheduler registered")
        return 0 if alive else 1
    JoblineScheduler(redis, name).run()
    return 0
