"""Real-time benchmark: thousands of SSE clients and long polls on ONE API process while jobs run.

    .venv/bin/python -m bench.realtime_bench [--sse 2000] [--dashboards 100] [--polls 200]
        [--seconds 60] [--worker-class gevent gthread] [--pin] [--client-gc freeze|default]

For each worker class: a private redis-server, `jobline api` with one gunicorn worker process, two
`jobline worker` processes running demo.progress jobs (10 steps of 0.1 s) from one long queue.
Phase 1 (unloaded): plain GET /api/v1/jobs/{id} latency while the jobs run. Phase 2 (loaded): the same
GETs while `--sse` event streams (`--dashboards` of them on /events, the rest on /jobs/{id}/stream,
walking the queue) and `--polls` long polls are open. Prints one JSON document per worker class.

`--pin` puts the load generator (this process's 2,300 clients) on the last CPU and everything measured
(redis-server, the API, the workers, the GET sampler) on the others, as when clients are other machines:
on a 2-core machine the clients otherwise take CPU from the API at the very moments it is busiest.

The clients' own pauses would count as the server's latency, so the report shows them: the clients'
event-loop delays (every 2 ms) and garbage collections, and for the slowest deliveries what the API, the
clients and Redis did between the change and its receipt (CPU time and wait for a CPU, from
/proc/<pid>/schedstat sampled every 2 ms by a separate process). Before measuring, the clients' objects are
frozen out of Python's collector (`--client-gc default` leaves it as it is): in traced runs one full
collection over them stopped all 2,300 clients for ~46 ms at once, the run's slowest event (and, had it
fallen on a job's change, its slowest long polls).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import http.client
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis

from app.redis_server import RedisServer, free_port
from bench.measure import http_login
from bench.rt_clients import Jobs, Recorder, dashboard_client, job_stream_client, poll_client

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "bench-password"
QUEUE = "bench"
WINDOW = 60  # jobs watched at once: each gets (sse - dashboards) / WINDOW stream clients


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": round(max(values), 2) if values else None,
    }


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_s(pid: int) -> float:
    """Seconds `pid` has spent ready to run but waiting for a CPU (/proc/<pid>/schedstat, field 2)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in tree(int(child)))]


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_s(p)
    return total


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def get_sampler(port: int, token: str, job_id: str, seconds: float, out: Any, cpus: Any) -> None:
    """A separate process: GET one job every 50 ms over a keep-alive connection; send latencies (ms)."""
    if cpus:
        os.sched_setaffinity(0, cpus)  # with the API, not with the load generator
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn.request("GET", f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
        reply = conn.getresponse()
        reply.read()
        if reply.status == 200:
            latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))
    out.send(latencies)


def sched_sampler(pids: dict[str, int], seconds: float, out: Any, interval_s: float = 0.002) -> None:
    """A separate process: every `interval_s` a row of the time (epoch ms) and, per process, its CPU time
    and its wait for a CPU so far (ns, /proc/<pid>/schedstat); sends (names, rows, its own CPU seconds) at
    the end. schedstat is the main thread's: all the work of a gevent API worker, the clients and Redis,
    but not a gthread worker's request threads (its figures there show only the main thread)."""
    files = {name: open(f"/proc/{pid}/schedstat", "rb", buffering=0) for name, pid in pids.items()}  # noqa: SIM115
    last = {name: (0, 0) for name in files}
    rows = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row: list[float] = [time.time() * 1000]
        for name, f in files.items():
            with contextlib.suppress(OSError, ValueError):
                f.seek(0)
                ran, waited, _ = f.read().split()
                last[name] = (int(ran), int(waited))
            row += last[name]
        rows.append(row)
        time.sleep(interval_s)
    out.send((list(files), rows, time.process_time()))


class LoopWatch:
    """This process's event-loop delays (how much a 2 ms sleep oversleeps) and its garbage collections,
    each with its time (epoch ms): a pause of the load generator delays every client at once."""

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []
        self.collections: list[tuple[float, int, float]] = []  # (ended at, generation, ms)
        self._started = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = (time.perf_counter() - self._started) * 1000
            self.collections.append((time.time() * 1000, info["generation"], spent))

    async def _watch(self) -> None:
        while not self._stop.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(0.002)
            self.lags.append((time.time() * 1000, (time.perf_counter() - asked) * 1000 - 2))

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)
        self._stop.set()
        if self._task is not None:
            await self._task

    def lag_in(self, lo: float, hi: float) -> float:
        """The longest loop delay that ended in [lo, hi + 5 ms]."""
        at = [t for t, _ in self.lags]
        return max(
            (lag for _, lag in self.lags[bisect.bisect_left(at, lo) : bisect.bisect_right(at, hi + 5)]),
            default=0.0,
        )

    def gc_in(self, lo: float, hi: float) -> float:
        """Milliseconds of collections that ended in [lo, hi + 60 ms] (a collection ends after it pauses)."""
        return sum(ms for t, _, ms in self.collections if lo <= t <= hi + 60)


def slowest(
    latencies: list[float],
    received: list[float],
    names: list[str],
    rows: list[list[float]],
    watch: LoopWatch,
    n: int,
) -> list[dict[str, Any]]:
    """The `n` slowest deliveries and what each process did between the change and its receipt: ms on a
    CPU and ms waiting for one, the clients' longest loop delay and their garbage collection."""
    times = [row[0] for row in rows]
    out = []
    for latency, at in sorted(zip(latencies, received, strict=True), reverse=True)[:n]:
        lo, hi = at - latency, at
        i, j = bisect.bisect_left(times, lo), min(bisect.bisect_left(times, hi), len(rows) - 1)
        entry: dict[str, Any] = {
            "ms": round(latency, 1),
            "at_s": round((at - times[0]) / 1000, 1) if rows else None,
        }
        for k, name in enumerate(names):
            if j > i:
                entry[f"{name}_cpu_ms"] = round((rows[j][1 + 2 * k] - rows[i][1 + 2 * k]) / 1e6, 1)
                entry[f"{name}_waiting_ms"] = round((rows[j][2 + 2 * k] - rows[i][2 + 2 * k]) / 1e6, 1)
        entry["client_loop_lag_ms"] = round(watch.lag_in(lo, hi), 1)
        entry["client_gc_ms"] = round(watch.gc_in(lo, hi), 1)
        out.append(entry)
    return out


def sample_gets(
    port: int, token: str, job_id: str, seconds: float, cpus: Any = None
) -> multiprocessing.Process:
    parent, child = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.Process(target=get_sampler, args=(port, token, job_id, seconds, child, cpus))
    proc.start()
    proc.result_pipe = parent  # type: ignore[attr-defined]
    return proc


def redis_stats(r: Redis) -> dict[str, Any]:
    info = r.info("commandstats")
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in info.items()}
    clients: dict[str, int] = {}
    for c in r.client_list():
        clients[c.get("name") or "-"] = clients.get(c.get("name") or "-", 0) + 1
    return {"calls": calls, "clients": clients, "at": time.monotonic()}


def per_second(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    seconds = after["at"] - before["at"]
    delta = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items()}
    top = sorted(((v, k) for k, v in delta.items() if v), reverse=True)[:8]
    return {
        "total_per_s": round(sum(delta.values()) / seconds),
        "top_per_s": {k: round(v / seconds, 1) for v, k in top},
        "xread_per_s": round(delta.get("xread", 0) / seconds, 2),
    }


class Stack:
    """redis-server, `jobline api` (one gunicorn worker) and two `jobline worker` processes."""

    def __init__(self, worker_class: str, tmp: Path) -> None:
        self.redis = RedisServer(directory=str(tmp / f"redis-{worker_class}")).start()
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            REDIS_URL=self.redis.url,
            JOBLINE_ADMIN_PASSWORD=PASSWORD,
            JOBLINE_API_WORKERS="1",
            JOBLINE_API_WORKER_CLASS=worker_class,
            JOBLINE_API_THREADS="2600",  # gthread: one thread per open request
            JOBLINE_API_CONNECTIONS="5000",
            JOBLINE_LOG_LEVEL="warning",
            PYTHONPATH=str(ROOT),
        )
        logs = (tmp / f"api-{worker_class}.log").open("wb")
        cmd = [sys.executable, "-m", "app"]
        self.api = subprocess.Popen(
            [*cmd, "api", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        self.workers = [
            subprocess.Popen(
                [*cmd, "worker", "--queues", QUEUE],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        self.client = Redis.from_url(self.redis.url, decode_responses=True)

    def login(self) -> str:
        return http_login(self.port, PASSWORD)

    def submit(self, token: str, n: int) -> list[str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"task": "demo.progress", "queue": QUEUE, "params": {"steps": 10, "delay": 0.1}})
        ids = []
        for _ in range(n):
            conn.request("POST", "/api/v1/jobs", body, headers)
            ids.append(json.loads(conn.getresponse().read())["id"])
        return ids

    def completed(self, token: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(
            "GET",
            f"/api/v1/jobs?status=completed&queue={QUEUE}&limit=1",
            headers={"Authorization": f"Bearer {token}"},
        )
        return int(json.loads(conn.getresponse().read())["total"])

    def stop(self) -> None:
        for proc in [self.api, *self.workers]:
            proc.terminate()
        for proc in [self.api, *self.workers]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis.stop()


async def loaded_phase(stack: Stack, token: str, jobs: Jobs, args: argparse.Namespace) -> dict[str, Any]:
    rec, stop = Recorder(), asyncio.Event()
    host, port = "127.0.0.1", stack.port
    frontier = stack.completed(token)
    tasks = [
        asyncio.create_task(dashboard_client(host, port, token, rec, stop)) for _ in range(args.dashboards)
    ]
    for i in range(args.sse - args.dashboards):
        tasks.append(
            asyncio.create_task(job_stream_client(host, port, token, jobs, frontier + i % WINDOW, rec, stop))
        )
        if i % 50 == 49:
            await asyncio.sleep(0.25)  # ramp up: 200 connections a second
    for i in range(args.polls):
        tasks.append(
            asyncio.create_task(poll_client(host, port, token, jobs, frontier + i % WINDOW, rec, stop))
        )
    ramp_deadline = time.monotonic() + 120
    while rec.streams_open < args.sse * 0.98 and time.monotonic() < ramp_deadline:
        await asyncio.sleep(0.5)
    opened = rec.streams_open
    await asyncio.sleep(3)  # settle
    # the clients' pauses would count as the server's latency (module docstring): the objects that live
    # through the run are not scanned again
    if args.client_gc == "freeze":
        gc.collect()
        gc.freeze()
    await asyncio.sleep(0.5)  # what reached the clients during that collection is read before measuring
    pid = worker_pid(stack.api.pid)
    before, cpu_before, wait_before, rss = redis_stats(stack.client), cpu_s(pid), runqueue_s(pid), []
    # the clients' own process only: its tree would hold everything the Stack started (API included)
    cpu_of: dict[str, Any] = {"bench_client": lambda: cpu_s(os.getpid())}
    cpu_of["redis"] = lambda: tree_cpu_s(stack.redis.process.pid)
    for i, w in enumerate(stack.workers):
        cpu_of[f"worker_{i}"] = lambda pid=w.pid: tree_cpu_s(pid)  # with its jobs' processes
    cpu_start = {name: read() for name, read in cpu_of.items()}
    load_start = os.getloadavg()[0]
    sampler = sample_gets(port, token, jobs.ids[0], args.seconds, args.server_cpus)
    sched_out, sched_in = multiprocessing.Pipe(duplex=False)
    watched = {"api": pid, "client": os.getpid(), "redis": stack.redis.process.pid}
    sched = multiprocessing.Process(target=sched_sampler, args=(watched, args.seconds + 0.5, sched_in))
    sched.start()
    watch = LoopWatch()
    watch.start()
    rec.measuring = True
    clients_seen: list[dict[str, int]] = []
    open_now: list[int] = []
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        await asyncio.sleep(1.0)
        rss.append(rss_kb(pid))
        open_now.append(rec.streams_open)
        clients_seen.append(redis_stats(stack.client)["clients"])
    rec.measuring = False
    after, cpu_after, wait_after = redis_stats(stack.client), cpu_s(pid), runqueue_s(pid)
    cpu_other = {n: round(100 * (read() - cpu_start[n]) / args.seconds, 1) for n, read in cpu_of.items()}
    await watch.stop()
    gc.unfreeze()  # nothing frozen without --client-gc freeze
    gets = sampler.result_pipe.recv()  # type: ignore[attr-defined]
    sampler.join()
    names, rows, sampler_cpu_s = sched_out.recv()
    cpu_other["schedstat_sampler"] = round(100 * sampler_cpu_s / args.seconds, 1)
    sched.join()
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams_open_at_start": opened,
        "streams_opened_total": rec.streams_opened,
        "streams_open_during": {"min": min(open_now), "mean": round(sum(open_now) / len(open_now))},
        "polls_open_at_end": rec.polls_open,
        "change_to_client_ms": {
            "job_streams": summary(rec.sse_ms),
            "events_dashboards": summary(rec.dash_ms),
            "long_polls": summary(rec.poll_ms),
            "job_stream_events_with_head": summary(rec.sse_head_ms),
            "all_sse": summary(rec.sse_ms + rec.dash_ms),
        },
        "job_stream_open_ms": summary(rec.open_ms),  # connect + request -> the stream's head received
        "poll_timeouts": rec.poll_timeouts,
        "get_ms": summary(gets),
        "api_rss_mb": {"max": round(max(rss) / 1024, 1), "end": round(rss[-1] / 1024, 1)},
        "api_cpu_percent": round(100 * (cpu_after - cpu_before) / args.seconds, 1),
        # time the API was ready to run but had no CPU (the machine's other processes had them)
        "api_waiting_for_cpu_percent": round(100 * (wait_after - wait_before) / args.seconds, 2),
        "other_cpu_percent": cpu_other,  # of one core; the machine has os.cpu_count() of them
        "loadavg_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "redis": per_second(before, after),
        "redis_clients_max": {k: max(c.get(k, 0) for c in clients_seen) for k in clients_seen[-1]},
        # the load generator's own delays: every 2 ms, and its garbage collections (ms each)
        "client_loop_lag_ms": summary([lag for _, lag in watch.lags]),
        "client_gc": {
            f"gen{g}": {
                "n": sum(1 for _, gen, _ in watch.collections if gen == g),
                "max_ms": round(max((ms for _, gen, ms in watch.collections if gen == g), default=0.0), 1),
            }
            for g in range(3)
        },
        # the slowest deliveries and what the API, the clients and Redis did meanwhile (ms on a CPU, ms
        # waiting for one): tells the server's delays from the load generator's
        "slowest": {
            "long_polls": slowest(rec.poll_ms, rec.poll_at, names, rows, watch, 5),
            "sse": slowest(rec.sse_ms + rec.dash_ms, rec.sse_at + rec.dash_at, names, rows, watch, 3),
        },
        "errors": rec.errors,
    }


def run_client(main: Any) -> Any:
    """The clients' event loop: uvloop when installed (the load generator must not be what is measured)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_class(worker_class: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    everywhere = os.sched_getaffinity(0)
    if args.server_cpus:
        os.sched_setaffinity(0, args.server_cpus)  # what the stack starts inherits it
    stack = Stack(worker_class, tmp)
    try:
        token = stack.login()
        jobs = Jobs(stack.submit(token, args.jobs), WINDOW)
        pid = worker_pid(stack.api.pid)
        idle_rss = rss_kb(pid)
        sampler = sample_gets(stack.port, token, jobs.ids[0], args.unloaded_seconds, args.server_cpus)
        unloaded = sampler.result_pipe.recv()  # type: ignore[attr-defined]
        sampler.join()
        if args.client_cpus:
            os.sched_setaffinity(0, args.client_cpus)
        loaded = run_client(loaded_phase(stack, token, jobs, args))
        return {
            "worker_class": worker_class,
            "pinned": {"server_cpus": args.server_cpus, "client_cpus": args.client_cpus}
            if args.pin
            else None,
            "api_rss_mb_unloaded": round(idle_rss / 1024, 1),
            "get_ms_unloaded": summary(unloaded),
            "loaded": loaded,
            "get_p99_ratio": round(loaded["get_ms"]["p99"] / summary(unloaded)["p99"], 2),
        }
    finally:
        stack.stop()
        os.sched_setaffinity(0, everywhere)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sse", type=int, default=2000, help="event-stream clients in all")
    parser.add_argument("--dashboards", type=int, default=100, help="of which on /events")
    parser.add_argument("--polls", type=int, default=200, help="long-poll clients")
    parser.add_argument("--seconds", type=float, default=60, help="measured loaded phase")
    parser.add_argument(
        "--unloaded-seconds", type=float, default=60, help="measured unloaded phase (as many GETs as loaded)"
    )
    parser.add_argument("--jobs", type=int, default=500, help="demo.progress jobs queued at start")
    parser.add_argument("--worker-class", nargs="+", default=["gevent", "gthread"])
    parser.add_argument("--log-dir", help="keep the API's log (and Redis's files) here")
    parser.add_argument(
        "--client-gc",
        choices=["freeze", "default"],
        default="freeze",
        help="freeze the clients' objects before measuring (default), or leave Python's collector as it is",
    )
    parser.add_argument(
        "--pin", action="store_true", help="the clients on the last CPU, the rest on the others"
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) < 2:
        parser.error("--pin needs at least 2 CPUs")
    args.server_cpus = cpus[:-1] if args.pin else None
    args.client_cpus = cpus[-1:] if args.pin else None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        json.dumps(
            {"machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()}, "args": vars(args)}
        ),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="jobline-rt-bench-") as tmp:
        logs = Path(args.log_dir or tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for worker_class in args.worker_class:
            print(json.dumps(run_class(worker_class, args, logs), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
