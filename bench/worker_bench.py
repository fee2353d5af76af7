"""Worker throughput and Redis round trips per job: Jobline's worker next to plain RQ workers, one run.

For each worker kind, N no-op jobs are enqueued on a fresh private redis-server, then one worker
process drains them with --burst. Reported: jobs/s over the wall time (process start to exit) and
over the window (first start to last end, from the job hashes), and Redis round trips per job of the
worker's parent process (an in-process run with a connection that counts what it sends).

    .venv/bin/python bench/worker_bench.py --jobs 5000 --trials 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redis import Connection, ConnectionPool, Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.models import JobSpec  # noqa: E402
from app.redis_server import RedisServer  # noqa: E402
from app.services.wiring import build_job_service, retention_of  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store.codec import parse_time  # noqa: E402
from app.store.scripts import Scripts  # noqa: E402
from app.store.workers import WorkerStore  # noqa: E402
from app.tasks import load_task_modules  # noqa: E402

BIN = Path(sys.executable).parent


class CountingConnection(Connection):
    """Counts round trips: every packed send is one request the client then waits on."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


def enqueue_jobline(url: str, n: int) -> None:
    redis = Redis.from_url(url)
    jobs = build_job_service(Settings(redis_url=url), redis, load_task_modules(()))
    for _ in range(n):
        jobs.submit(JobSpec(task="demo.noop", max_retries=0))


def enqueue_rq(url: str, n: int) -> None:
    from rq import Queue

    queue = Queue("default", connection=Redis.from_url(url))
    for start in range(0, n, 500):
        queue.enqueue_many([Queue.prepare_data("bench.bench_jobs.noop") for _ in range(min(500, n - start))])


def window_rate(redis: Redis, n: int) -> float:
    starts, ends = [], []
    for key in redis.scan_iter(match=b"rq:job:*", count=1000):
        started, ended = redis.hmget(key, "started_at", "ended_at")
        s, e = parse_time(started), parse_time(ended)
        if s and e:
            starts.append(s.timestamp())
            ends.append(e.timestamp())
    return n / (max(ends) - min(starts)) if starts else float("nan")


def run_process(kind: str, url: str, n: int) -> dict[str, float]:
    # keep every finished job, so the window below spans all of them (retention would trim all but 1,000)
    env = dict(
        os.environ,
        REDIS_URL=url,
        JOBLINE_LOG_LEVEL="warning",
        JOBLINE_KEEP_COMPLETED="10000000",
        PYTHONPATH=str(ROOT),
    )
    if kind == "jobline":
        argv = [str(BIN / "jobline"), "worker", "--burst"]
    else:
        worker_class = ["-w", "rq.worker.SimpleWorker"] if kind == "rq-simple" else []
        argv = [str(BIN / "rq"), "worker", "-u", url, "--burst", "-q", *worker_class, "default"]
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return {"wall_jobs_s": n / wall, "window_jobs_s": window_rate(Redis.from_url(url), n)}


def round_trips_jobline(url: str, n: int) -> float:
    """Round trips per job of Jobline's claim loop, in process (the child runs the task, no Redis)."""
    enqueue_jobline(url, n)
    pool = ConnectionPool.from_url(url, connection_class=CountingConnection)
    redis = Redis(connection_pool=pool)
    settings = Settings(redis_url=url)
    store = WorkerStore(redis, Scripts(redis), "counter", ("default",), retention_of(settings), 30.0, 30)
    CountingConnection.sent = 0
    outcome = None
    from app.store.workers import Outcome

    done = 0
    while True:
        claim = store.claim(f"e{done}", outcome, "take")
        if claim.job is None:
            break
        outcome = Outcome(claim.job, "ok", 0.0, result="null")
        done += 1
    return CountingConnection.sent / max(done, 1)


def round_trips_rq(url: str, n: int) -> float:
    from rq import SimpleWorker

    enqueue_rq(url, n)
    pool = ConnectionPool.from_url(url, connection_class=CountingConnection)
    redis = Redis(connection_pool=pool)
    worker = SimpleWorker(["default"], connection=redis)
    CountingConnection.sent = 0
    worker.work(burst=True, logging_level="WARNING")
    return CountingConnection.sent / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    server = RedisServer(appendonly=False).start()
    redis = Redis.from_url(server.url)
    results: dict[str, Any] = {}
    try:
        for kind in ("jobline", "rq-simple", "rq-fork"):
            trials = []
            for t in range(args.trials):
                redis.flushall()
                (enqueue_jobline if kind == "jobline" else enqueue_rq)(server.url, args.jobs)
                trials.append(run_process(kind, server.url, args.jobs))
                print(f"{kind} trial {t + 1}: {json.dumps(trials[-1])}", flush=True)
            results[kind] = {k: statistics.median(tr[k] for tr in trials) for k in trials[0]}
        redis.flushall()
        results["jobline"]["round_trips_per_job"] = round_trips_jobline(server.url, 1000)
        redis.flushall()
        results["rq-simple"]["round_trips_per_job"] = round_trips_rq(server.url, 1000)
    finally:
        server.stop()
    base = results["rq-simple"]["wall_jobs_s"]
    for kind in results:
        results[kind]["vs_rq_simple_wall"] = results[kind]["wall_jobs_s"] / base
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
