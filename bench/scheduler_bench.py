"""Scheduler precision: N interval workflows for S seconds with two `jobline scheduler` processes.

Measures lateness (enqueue time - planned time) p50/p99/max, runs missed, runs duplicated and drift;
then, in the same run, rq-scheduler's own interval jobs (`rqscheduler -i 1`; a collector pops their
queue with BLPOP and notes when each run arrived) and RQ's built-in cron (`rq cron`, whose next run
counts from the actual enqueue; arrival times from its own per-job history).

    .venv/bin/python bench/scheduler_bench.py --workflows 1000 --seconds 60 --compare 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import keys  # noqa: E402
from app.models import WorkflowSpec  # noqa: E402
from app.redis_server import RedisServer  # noqa: E402
from app.services.wiring import build_job_service, build_workflow_service  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store.codec import parse_time  # noqa: E402
from app.tasks import load_task_modules  # noqa: E402

BIN = Path(sys.executable).parent


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def jobline_phase(
    server: RedisServer, n: int, seconds: float, schedulers: int, logdir: Path
) -> dict[str, Any]:
    redis = Redis.from_url(server.url)
    redis.flushall()
    settings = Settings(redis_url=server.url)
    jobs = build_job_service(settings, redis, load_task_modules(()))
    workflows = build_workflow_service(redis, jobs)
    t0 = time.time() + 4.0
    ids = []
    for i in range(n):
        start = datetime.fromtimestamp(t0 + random.random(), UTC)
        spec = WorkflowSpec(name=f"bench-{i}", task="demo.noop", interval_s=1, start_at=start)
        ids.append(workflows.create(spec, "bench").id)
    env = dict(os.environ, REDIS_URL=server.url, JOBLINE_LOG_LEVEL="warning", PYTHONPATH=str(ROOT))
    procs = [
        spawn([str(BIN / "jobline"), "scheduler", "--name", f"bench-s{i}"], env, logdir / f"sched{i}.log")
        for i in range(schedulers)
    ]
    time.sleep(t0 - time.time() + seconds)
    end = time.time()
    stop(procs)
    return analyse_jobline(redis, workflows, ids, end - 1.0)


def analyse_jobline(redis: Redis, workflows: Any, ids: list[str], window_end: float) -> dict[str, Any]:
    lateness: list[float] = []
    missed = duplicated = runs = 0
    drift_ms: list[float] = []
    for workflow_id in ids:
        wf = workflows.get(workflow_id)
        members = redis.zrange(keys.index("wf", f"{workflow_id}:AUTOMATIC", "pending"), 0, -1)
        pipe = redis.pipeline(transaction=False)
        for m in members:
            pipe.hmget(keys.job(m.decode()), ["jl_sched", "created_at"])
        planned_ms = []
        for sched, created in pipe.execute():
            p, c = parse_time(sched), parse_time(created)
            assert p is not None and c is not None
            planned_ms.append(round(p.timestamp() * 1000))
            lateness.append((c - p).total_seconds() * 1000)
        runs += len(planned_ms)
        duplicated += len(planned_ms) - len(set(planned_ms))
        anchor = wf.anchor_ms
        expected = {anchor + k * 1000 for k in range(int((window_end * 1000 - anchor) // 1000) + 1)}
        missed += len(expected - set(planned_ms))
        drift_ms += [(p - anchor) % 1000 for p in planned_ms]
    return {
        "workflows": len(ids),
        "runs": runs,
        "missed": missed,
        "duplicated": duplicated,
        "lateness_ms": {"p50": pct(lateness, 50), "p99": pct(lateness, 99), "max": max(lateness)},
        "max_offset_from_grid_ms": max(drift_ms) if drift_ms else None,
    }


class Collector(threading.Thread):
    """Pops a queue as it fills and notes when each job id arrived (a worker that runs nothing)."""

    def __init__(self, url: str, queue_key: str) -> None:
        super().__init__(daemon=True)
        self.redis = Redis.from_url(url)
        self.queue_key = queue_key
        self.arrivals: dict[str, list[float]] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            item = self.redis.blpop([self.queue_key], timeout=0.5)
            if item:
                self.arrivals.setdefault(item[1].decode(), []).append(time.time())


def analyse_arrivals(arrivals: dict[str, list[float]], seconds: float, interval: float) -> dict[str, Any]:
    gaps: list[float] = []
    drift_per_hour: list[float] = []
    missed = 0
    for times in arrivals.values():
        gaps += [(b - a) * 1000 for a, b in zip(times, times[1:], strict=False)]
        if len(times) > 1:
            span = times[-1] - times[0]
            drift = span - (len(times) - 1) * interval
            drift_per_hour.append(drift / span * 3600)
        missed += max(0, int(seconds / interval) - len(times))
    return {
        "jobs": len(arrivals),
        "runs": sum(len(t) for t in arrivals.values()),
        "missed_vs_ideal": missed,
        "period_ms": {"p50": pct(gaps, 50), "p99": pct(gaps, 99), "max": max(gaps) if gaps else None},
        "drift_s_per_hour_median": pct(drift_per_hour, 50),
    }


def rq_scheduler_phase(server: RedisServer, n: int, seconds: float, logdir: Path) -> dict[str, Any]:
    from rq_scheduler import Scheduler

    redis = Redis.from_url(server.url)
    redis.flushall()
    scheduler = Scheduler(queue_name="default", connection=redis)
    start = datetime.now(UTC).replace(tzinfo=None)
    for i in range(n):
        scheduler.schedule(start, "bench.bench_jobs.noop", interval=1, repeat=None, id=f"rqs-{i}")
    collector = Collector(server.url, keys.queue_list("default", 0))
    collector.start()
    proc = spawn(
        [str(BIN / "rqscheduler"), "--url", server.url, "-i", "1"],
        dict(os.environ),
        logdir / "rqscheduler.log",
    )
    time.sleep(seconds)
    stop([proc])
    collector.stopped.set()
    collector.join()
    return analyse_arrivals(collector.arrivals, seconds, 1.0)


def rq_cron_phase(server: RedisServer, n: int, seconds: float, logdir: Path) -> dict[str, Any]:
    from rq.cron import get_cron_job_history_key

    redis = Redis.from_url(server.url)
    redis.flushall()
    config = Path(tempfile.mkdtemp()) / "cron_config.py"
    names = [f"every-1s-{i}" for i in range(n)]
    lines = ["from rq import cron", "from bench.bench_jobs import noop"]
    lines += [f"cron.register(noop, 'default', interval=1, name='{name}')" for name in names]
    config.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = spawn([str(BIN / "rq"), "cron", "-u", server.url, str(config)], env, logdir / "rqcron.log")
    time.sleep(seconds)
    stop([proc])
    arrivals = {
        name: sorted(
            score for _, score in redis.zrange(get_cron_job_history_key(name), 0, -1, withscores=True)
        )
        for name in names
    }
    return analyse_arrivals(arrivals, seconds, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--compare", type=int, default=50, help="jobs for the rq-scheduler and rq cron runs")
    args = parser.parse_args()
    logdir = Path(tempfile.mkdtemp(prefix="jobline-sched-bench-"))
    server = RedisServer(appendonly=False).start()
    try:
        print(
            f"[1/3] Jobline: {args.workflows} workflows x {args.seconds:.0f} s, {args.schedulers} schedulers",
            flush=True,
        )
        results = {"jobline": jobline_phase(server, args.workflows, args.seconds, args.schedulers, logdir)}
        print(json.dumps(results["jobline"]), flush=True)
        print(f"[2/3] rq-scheduler: {args.compare} interval jobs, rqscheduler -i 1", flush=True)
        results["rq_scheduler"] = rq_scheduler_phase(server, args.compare, args.seconds, logdir)
        print(json.dumps(results["rq_scheduler"]), flush=True)
        print(f"[3/3] rq cron: {args.compare} interval jobs", flush=True)
        results["rq_cron"] = rq_cron_phase(server, args.compare, args.seconds, logdir)
        print(json.dumps(results["rq_cron"]), flush=True)
    finally:
        server.stop()
    print(json.dumps(results, indent=2))
    print(f"logs: {logdir}")


if __name__ == "__main__":
    main()
