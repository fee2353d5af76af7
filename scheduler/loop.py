"""The scheduler process, built on rq-scheduler's Scheduler (process registration, heartbeat, run loop).

It sleeps until the next due workflow run (woken early when a workflow changes), fires every due run
through one atomic claim per planned time, and goes back to sleep. Any number may run at once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq_scheduler import Scheduler

from app import keys
from app.services.firing import Firing
from app.settings import Settings
from app.store.connection import connect
from app.store.scripts import Scripts
from app.store.workflows import WorkflowStore

log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0
ALIVE_WITHIN_S = 3 * HEARTBEAT_S


class JoblineScheduler(Scheduler):  # type: ignore[misc]
    """rq-scheduler's process identity and heartbeat, with a loop that sleeps until the next run."""

    def __init__(self, redis: Redis, name: str, store: WorkflowStore) -> None:
        super().__init__(connection=redis, interval=HEARTBEAT_S, name=name)
        self.store = store
        self.firing = Firing(store)
        self._stop = threading.Event()
        self._pubsub: Any = None
        self._next_beat = 0.0

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
                    self._step()
                except RedisError as e:
                    log.warning("scheduler %s: Redis unreachable (%s); retrying in 1 s", self.name, e)
                    self._pubsub = None
                    self._stop.wait(1.0)
                if burst:
                    return
        finally:
            self._shutdown()

    def _step(self) -> None:
        now = time.time()
        if now >= self._next_beat:
            self.heartbeat()
            self.store.heartbeat_scheduler(self.name, now)
            self._next_beat = now + HEARTBEAT_S
        self.firing.fire_due(int(time.time() * 1000))
        next_ms = self.store.next_due_ms()
        wait = self._next_beat - time.time()
        if next_ms is not None:
            wait = min(wait, next_ms / 1000 - time.time())
        if wait > 0:
            self._sleep(wait)

    def _sleep(self, wait_s: float) -> None:
        """Sleep until a run is due, waking early when a workflow changes (pub/sub)."""
        if self._pubsub is None:
            self._pubsub = self.connection.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(keys.WORKFLOWS_CHANGED)
        deadline = time.monotonic() + wait_s
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._pubsub.get_message(timeout=min(remaining, 1.0)) is not None:
                return

    def _shutdown(self) -> None:
        with contextlib.suppress(RedisError):
            if self._pubsub is not None:
                self._pubsub.close()
            self.store.forget_scheduler(self.name)
            self.register_death()
        log.info("scheduler %s: stopped", self.name)


def run_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    redis = connect(settings, blocking_s=HEARTBEAT_S + 5, name="jobline-scheduler")
    store = WorkflowStore(redis, Scripts(redis))
    if args.check:
        return check(store, args.name)
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    JoblineScheduler(redis, name, store).run()
    return 0


def check(store: WorkflowStore, name: str | None) -> int:
    """Health check: a scheduler (this name, or any on this host) heart-beat in the last 15 s."""
    try:
        alive = store.live_schedulers(time.time(), ALIVE_WITHIN_S)
    except RedisError as e:
        print(f"unhealthy: Redis unreachable ({e})")
        return 1
    host = socket.gethostname()
    mine = [n for n in alive if (n == name if name else n.startswith(host + "-"))]
    print(f"{'healthy' if mine else 'unhealthy'}: {len(mine)} live scheduler(s) here, {len(alive)} in all")
    return 0 if mine else 1
