"""Memory benchmark: Redis memory per retained job (Jobline and vanilla RQ), and used_memory staying flat
while 1,000,000 failures pass through a queue at a fixed cap.

    .venv/bin/python -m bench.memory --flat 1000000 --out docs/bench-memory.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker

from app import keys
from app.redis_server import RedisServer
from app.store.jobs import Retention
from app.tasks import load_task_modules
from bench.fill import Filler

KEEP_ALL = {"completed": 10**8, "failed": 10**8, "canceled": 10**8}
DEFAULT_HASH_VALUE = 64  # Redis's default hash-max-listpack-value


def noop() -> None:
    """Vanilla RQ's job."""


def boom() -> None:
    raise RuntimeError("demo failure")


def real_trace() -> list[str]:
    """The traceback a worker stores for demo.fail, produced by the worker's own child code."""
    from workers.child import run_task

    registry = load_task_modules(())
    reply = run_task(
        registry, {"id": "x", "attempt": 1, "queue": "q", "task": "demo.fail", "params": {}}, None, 1 << 20
    )
    return list(reply["trace"])


def memory(redis: Redis) -> tuple[int, int]:
    time.sleep(0.3)  # let client query buffers shrink
    info = redis.info("memory")
    return int(info["used_memory"]), int(info["used_memory_dataset"])


def per_job_jobline(hash_value: int, n: int, trace: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, status in (("ok", "completed"), ("error", "failed")):
        server = RedisServer(
            directory=tempfile.mkdtemp(prefix="jl-mem-"), appendonly=False, hash_max_value=hash_value
        )
        server.start()
        try:
            redis = Redis.from_url(server.url)
            filler = Filler(redis, Retention(7 * 86400, KEEP_ALL, (0.0,)), trace)
            filler.run("warm", 12_000, kind)  # the events stream reaches its cap; the counters exist
            before = memory(redis)
            filler.run("mem", n, kind)
            after = memory(redis)
            registry = keys.terminal("mem", status)
            assert redis.zcard(registry) == n
            sample = keys.job(redis.zrange(registry, 0, 0)[0].decode())
            out[status] = {
                "bytes_per_job": (after[0] - before[0]) / n,
                "dataset_bytes_per_job": (after[1] - before[1]) / n,
                "hash_encoding": redis.object("encoding", sample).decode(),
                "hash_memory_usage": redis.memory_usage(sample),
            }
        finally:
            server.stop()
    return out


def per_job_vanilla(n: int) -> dict[str, Any]:
    """Vanilla RQ 3 with its defaults: enqueue, then a SimpleWorker in burst mode."""
    out: dict[str, Any] = {}
    for func, status in (("bench.memory.noop", "completed"), ("bench.memory.boom", "failed")):
        server = RedisServer(
            directory=tempfile.mkdtemp(prefix="rq-mem-"), appendonly=False, hash_max_value=DEFAULT_HASH_VALUE
        )
        server.start()
        try:
            redis = Redis.from_url(server.url)
            queue = Queue("warm", connection=redis)
            for _ in range(200):
                queue.enqueue(func)
            SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
            before = memory(redis)
            queue = Queue("mem", connection=redis)
            for _ in range(n):
                queue.enqueue(func)
            SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
            after = memory(redis)
            out[status] = {
                "bytes_per_job": (after[0] - before[0]) / n,
                "dataset_bytes_per_job": (after[1] - before[1]) / n,
            }
        finally:
            server.stop()
    return out


def flat(total: int, trace: list[str], keep: int = 5000, every: int = 50_000) -> dict[str, Any]:
    """used_memory while `total` failures pass through one queue capped at `keep` failed jobs."""
    server = RedisServer(directory=tempfile.mkdtemp(prefix="jl-flat-"), appendonly=False)
    server.start()
    try:
        redis = Redis.from_url(server.url)
        keeps = {"completed": 1000, "failed": keep, "canceled": 1000}
        filler = Filler(redis, Retention(7 * 86400, keeps, (0.0,)), trace)
        filler.run("flat", every, "error", batch=500)  # warm-up: cap reached, events stream full
        base = memory(redis)
        samples = [{"jobs": every, "used_memory": base[0], "dataset": base[1]}]
        done, started = every, time.monotonic()
        while done < every + total:
            filler.run("flat", every, "error", batch=500)
            done += every
            used = memory(redis)
            samples.append({"jobs": done, "used_memory": used[0], "dataset": used[1]})
            stored = redis.zcard(keys.terminal("flat", "failed"))
            print(f"  flat: {done:>8} failures, used_memory {used[0]:>10}, stored {stored}", flush=True)
        values = [s["used_memory"] for s in samples]
        return {
            "failures_after_warmup": total,
            "seconds": round(time.monotonic() - started),
            "cap": keep,
            "stored_failed": redis.zcard(keys.terminal("flat", "failed")),
            "job_hashes": sum(1 for _ in redis.scan_iter(match=keys.job("*"), count=10_000)),
            "baseline": base[0],
            "min": min(values),
            "max": max(values),
            "final": values[-1],
            "max_deviation_pct": round(100 * max(abs(v - base[0]) for v in values) / base[0], 2),
            "samples": samples,
        }
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="retained jobs measured per case")
    parser.add_argument("--vanilla-jobs", type=int, default=3_000)
    parser.add_argument("--flat", type=int, default=1_000_000, help="failures pushed through at a fixed cap")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    trace = real_trace()
    results: dict[str, Any] = {"trace_chars": len(json.dumps(trace))}
    results["jobline_recommended_config"] = per_job_jobline(8192, args.jobs, trace)
    print("jobline, hash-max-listpack-value 8192:", results["jobline_recommended_config"], flush=True)
    results["jobline_default_config"] = per_job_jobline(DEFAULT_HASH_VALUE, args.jobs, trace)
    print("jobline, Redis defaults:", results["jobline_default_config"], flush=True)
    results["vanilla_rq"] = per_job_vanilla(args.vanilla_jobs)
    print("vanilla rq:", results["vanilla_rq"], flush=True)
    if args.flat:
        results["flat"] = flat(args.flat, trace)
        print("flat:", {k: v for k, v in results["flat"].items() if k != "samples"}, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
