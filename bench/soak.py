"""Soak (RELIABILITY D1): a steady stream of POST /api/v1/jobs against the whole stack, for minutes.

    .venv/bin/python -m bench.soak [--rate 200] [--seconds 600] [--workers 8] [--out docs/bench-soak.json]

A private redis-server, `jobline api` (gunicorn, JOBLINE_API_WORKERS processes) and `--workers`
`jobline worker` processes. A load generator sends `demo.noop` submits at a fixed rate (open loop: a
slow answer does not slow the schedule) over keep-alive connections from a pool of threads, for
`--seconds`. Measured: answers by status (any 5xx fails the run), submit latency p50/p99/max, jobs
lost (acknowledged with a 201 but neither completed nor failed in the end, by Jobline's lifetime
counters, which survive retention trimming), and Redis `used_memory` every 10 s (flat after warm-up:
retention caps the finished registries at JOBLINE_KEEP_COMPLETED per queue).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from redis import Redis

from app import keys
from app.redis_server import RedisServer, free_port
from bench.measure import http_login

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "soak-password"
QUEUE = "soak"


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


class Stack:
    def __init__(self, tmp: Path, workers: int, api_workers: int) -> None:
        self.redis = RedisServer(directory=str(tmp / "redis")).start()
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            REDIS_URL=self.redis.url,
            JOBLINE_ADMIN_PASSWORD=PASSWORD,
            JOBLINE_API_WORKERS=str(api_workers),
            JOBLINE_LOG_LEVEL="warning",
            JOBLINE_LOGIN_RATE="0",
            PYTHONPATH=str(ROOT),
        )
        cmd = [sys.executable, "-m", "app"]
        self.procs = [
            subprocess.Popen(
                [*cmd, "api", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=(tmp / "api.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        ]
        for i in range(workers):
            self.procs.append(
                subprocess.Popen(
                    [*cmd, "worker", "--queues", QUEUE, "--name", f"soak-{i}"],
                    env=env,
                    stdout=(tmp / f"worker-{i}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        self.admin = Redis.from_url(self.redis.url, decode_responses=True)

    def login(self) -> str:
        return http_login(self.port, PASSWORD)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis.stop()


def load(stack: Stack, token: str, rate: float, seconds: float, threads: int) -> dict[str, Any]:
    """Open-loop submits at `rate`/s; returns latencies (ms) and answers by status."""
    due: queue.Queue[float | None] = queue.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    body = json.dumps({"task": "demo.noop", "queue": QUEUE})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        while (at := due.get()) is not None:
            try:
                conn.request("POST", "/api/v1/jobs", body, headers)
                reply = conn.getresponse()
                reply.read()
                status = reply.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
                status = 0
            took = (time.monotonic() - at) * 1000  # from the scheduled send time: queueing counts
            with lock:
                latencies.append(took)
                statuses[status] = statuses.get(status, 0) + 1

    pool = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    start = time.monotonic()
    memory: list[tuple[float, int]] = []
    sent = 0
    next_sample = start
    while (elapsed := time.monotonic() - start) < seconds:
        target = int(elapsed * rate)
        while sent < target:
            due.put(start + sent / rate)
            sent += 1
        if time.monotonic() >= next_sample:
            memory.append((round(elapsed), int(stack.admin.info("memory")["used_memory"])))
            done = sum(int(v) for v in stack.admin.hvals(keys.LIFETIME))
            print(
                f"  {elapsed:5.0f} s  sent {sent:7d}  finished {done:7d}  used_memory {memory[-1][1]:,} B",
                flush=True,
            )
            next_sample += 10
        time.sleep(0.002)
    for _ in pool:
        due.put(None)
    for t in pool:
        t.join(timeout=60)
    return {"sent": sent, "latencies": latencies, "statuses": statuses, "memory": memory}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="submits per second")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=8, help="jobline worker processes")
    parser.add_argument("--api-workers", type=int, default=2, help="gunicorn processes of the API")
    parser.add_argument("--threads", type=int, default=32, help="load-generator connections")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before memory must be flat")
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobline-soak-") as tmp:
        stack = Stack(Path(tmp), args.workers, args.api_workers)
        try:
            token = stack.login()
            print(f"soak: {args.rate:g} submits/s for {args.seconds:g} s, {args.workers} workers", flush=True)
            run = load(stack, token, args.rate, args.seconds, args.threads)
            acknowledged = run["statuses"].get(201, 0)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                life = {k: int(v) for k, v in stack.admin.hgetall(keys.LIFETIME).items()}
                finished = life.get(f"{QUEUE}:completed", 0) + life.get(f"{QUEUE}:failed", 0)
                if finished >= acknowledged:
                    break
                time.sleep(1)
            stored = int(stack.admin.zcard(keys.terminal(QUEUE, "completed")))
        finally:
            stack.stop()
    lat = run["latencies"]
    settled = [m for t, m in run["memory"] if t >= args.warmup]
    base = settled[0] if settled else None
    result = {
        "args": vars(args),
        "sent": run["sent"],
        "answers": {str(k): v for k, v in sorted(run["statuses"].items())},
        "server_errors": sum(v for k, v in run["statuses"].items() if k >= 500 or k == 0),
        "latency_ms": {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": round(max(lat), 1)},
        "acknowledged": acknowledged,
        "finished": finished,
        "lost": max(0, acknowledged - finished),
        "completed_stored_at_end": stored,
        "used_memory": {
            "after_warmup_first": base,
            "min": min(settled) if settled else None,
            "max": max(settled) if settled else None,
            "largest_deviation_pct": round(max(abs(m - base) for m in settled) / base * 100, 2)
            if base
            else None,
        },
        "memory_samples": run["memory"],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "memory_samples"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["server_errors"] == 0 and result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
