"""`jobline worker`: parse flags, build the worker once, run it (or --check that one is alive)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

from redis import Redis
from redis.exceptions import RedisError

from app.services.wiring import retention_of
from app.settings import QUEUE_NAME_RE, Settings
from app.store.connection import UNREACHABLE, connect, redact_url, redis_problem
from app.store.queues import register_names
from app.store.roster import live_workers
from app.store.scripts import Scripts
from app.store.workers import WorkerStore
from app.tasks import load_task_modules
from workers.worker import JoblineWorker

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queues",
        "-q",
        help="comma-separated queues, in the order they are served (default: JOBLINE_QUEUES)",
    )
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--name", help="worker name (default: <host>-<pid>); must be unique")
    parser.add_argument("--check", action="store_true", help="exit 0 if a worker on this host is alive")


def queues_from(raw: str | None, settings: Settings) -> tuple[str, ...]:
    if not raw:
        return settings.queues
    names = tuple(q.strip() for q in raw.split(",") if q.strip())
    bad = [q for q in names if not QUEUE_NAME_RE.match(q)]
    if bad or not names:
        raise SystemExit(f"jobline worker: invalid queue name(s) {bad or raw!r}; use letters, digits, _ . -")
    return names


def run(args: argparse.Namespace, settings: Settings) -> int:
    redis = connect(settings, blocking_s=settings.heartbeat_s + 5, name="jobline-worker")
    if args.check:
        return check(redis, args.name)
    tasks = load_task_modules(settings.task_modules)
    queues = queues_from(args.queues, settings)
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    store = WorkerStore(
        redis, Scripts(redis), name, queues, retention_of(settings), settings.lease_s, int(settings.lease_s)
    )
    try:
        wait_until_writable(redis, queues, name)
        worker = JoblineWorker(settings, redis, store, tasks, name)
        worker.run(burst=args.burst)
    except RedisError as e:
        problem = redis_problem(e) or str(e)
        print(
            f"jobline worker: Redis at {redact_url(settings.redis_url)!r}: {problem} ({e}). "
            "Start Redis or fix REDIS_URL, then run again.",
            file=sys.stderr,
        )
        return 2
    return 0


def wait_until_writable(redis: Redis, queues: tuple[str, ...], name: str, pause_s: float = 5.0) -> None:
    """Before registering: while Redis answers but refuses writes (full, read-only, cannot persist,
    loading), wait and say why, instead of failing; a worker joins as soon as Redis accepts it. An
    unreachable Redis still raises (the supervisor, or the operator, restarts the worker)."""
    while True:
        try:
            register_names(redis, queues)
            return
        except RedisError as e:
            problem = redis_problem(e)
            if problem is None or problem == UNREACHABLE:
                raise
            log.warning("worker %s: %s; waiting to register, retrying every %g s", name, problem, pause_s)
            time.sleep(pause_s)


def check(redis: object, name: str | None) -> int:
    """Health check for orchestrators: a live worker (by name, or any on this host) exists."""
    try:
        workers = live_workers(redis)  # type: ignore[arg-type]
    except RedisError as e:
        print(f"unhealthy: Redis unreachable ({e})", file=sys.stderr)
        return 1
    host = socket.gethostname()
    alive = [w for w in workers if (w.name == name if name else w.hostname == host)]
    print(f"{'healthy' if alive else 'unhealthy'}: {len(alive)} live worker(s)")
    return 0 if alive else 1
