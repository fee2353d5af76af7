"""Listing benchmark: queue counts, pages and stats at 1,000 and 1,000,000 stored finished jobs, in one run,
side by side with vanilla rq-dashboard-style access (whole registry read, one round trip per job).

    .venv/bin/python -m bench.listing --jobs 1000000 --out docs/bench-listing.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from redis import Redis
from rq.job import Job
from rq.queue import Queue
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import JSONSerializer

from app import keys
from app.api import create_app
from app.redis_server import RedisServer, free_port
from app.services.wiring import retention_of
from app.settings import Settings
from app.store.listing import encode_cursor
from bench.fill import Filler
from bench.measure import cost, counting_client, latency

PASSWORD = "bench-password"
QUEUES = tuple(f"bench{i}" for i in range(10))
MAIN = QUEUES[0]
API_NAME, VANILLA_NAME = "bench-api", "bench-vanilla"
LIMIT = 50


def settings_for(url: str) -> Settings:
    return Settings(
        redis_url=url,
        admin_password=PASSWORD,
        queues=QUEUES,
        keep_completed=10**8,
        keep_failed=10**8,
        keep_canceled=10**8,
    )


def fill_other_queues(filler: Filler) -> None:
    """Nine more queues, each with finished, failed and pending jobs, so counts cover 10 x 6 states."""
    for q in QUEUES[1:]:
        filler.run(q, 20, "ok")
        filler.run(q, 5, "error")
        filler.submit_only(q, 10)


def mid_cursor(admin: Redis) -> str:
    """A cursor pointing into the middle of the completed listing, as a client walking there would hold."""
    index = keys.index("trigger", "MANUAL", "completed")
    mid = admin.zcard(index) // 2
    ((member, score),) = admin.zrevrange(index, mid, mid, withscores=True)
    return str(encode_cursor([1, repr(score), member.decode()]))


def api_calls(get: Callable[[str], Any], admin: Redis, stored: int) -> dict[str, Callable[[], Any]]:
    last = max(1, -(-stored // LIMIT))
    first = get(f"/api/v1/jobs?status=completed&limit={LIMIT}")
    next_cursor = first["nextCursor"]
    middle = mid_cursor(admin)
    page = f"/api/v1/queues/{MAIN}?status=completed&limit={LIMIT}&page="
    jobs = f"/api/v1/jobs?status=completed&limit={LIMIT}"
    urls = {
        "GET /queues (10 queues x 6 states)": "/api/v1/queues",
        "GET /queues/{q} completed, first page": page + "1",
        "GET /queues/{q} completed, middle page": page + str(max(1, last // 2)),
        "GET /queues/{q} completed, last page": page + str(last),
        "GET /jobs?status=completed, first page": jobs,
        "GET /jobs?status=completed, next by cursor": f"{jobs}&cursor={next_cursor}",
        "GET /jobs?status=completed, cursor mid-list": f"{jobs}&cursor={middle}",
        "GET /jobs/stats": "/api/v1/jobs/stats",
    }
    return {name: (lambda u=url: get(u)) for name, url in urls.items()}


def vanilla_calls(conn: Redis, stored: int) -> dict[str, Callable[[], Any]]:
    """rq-dashboard's way: a round trip per count, the whole registry's ids, then one fetch per job."""
    registries = (StartedJobRegistry, FinishedJobRegistry, FailedJobRegistry, ScheduledJobRegistry,
                  DeferredJobRegistry, CanceledJobRegistry)  # fmt: skip

    def overview() -> list[int]:
        counts = []
        for q in QUEUES:
            counts.append(Queue(q, connection=conn, serializer=JSONSerializer).count)
            counts += [r(q, connection=conn).get_job_count(cleanup=False) for r in registries]
        return counts

    def page(number: int) -> list[Job]:
        ids = FinishedJobRegistry(MAIN, connection=conn).get_job_ids(cleanup=False)
        ids.reverse()  # newest first, like the dashboard
        chosen = ids[(number - 1) * LIMIT : number * LIMIT]
        return [Job.fetch(i, connection=conn, serializer=JSONSerializer) for i in chosen]

    last = max(1, -(-stored // LIMIT))
    return {
        "vanilla: counts of 10 queues x 7 registries": overview,
        "vanilla: registry page, first": lambda: page(1),
        "vanilla: registry page, middle": lambda: page(max(1, last // 2)),
        "vanilla: registry page, last": lambda: page(last),
    }


class HttpApi:
    """`jobline api` (gunicorn) on a free port, for client-side latency over real HTTP."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = free_port()
        env = dict(os.environ, REDIS_URL=url, JOBLINE_ADMIN_PASSWORD=PASSWORD)
        env.update(JOBLINE_QUEUES=",".join(QUEUES), JOBLINE_API_WORKERS="1", JOBLINE_LOG_LEVEL="warning")
        log = (workdir / "api.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "api", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.session.get(self.base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        token = self.session.post(
            self.base + "/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        self.session.headers["Authorization"] = f"Bearer {token.json()['token']}"

    def get(self, url: str) -> Any:
        reply = self.session.get(self.base + url, timeout=60)
        reply.raise_for_status()
        return reply.json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(url: str, admin: Redis, http: HttpApi, stored: int, reps: int) -> dict[str, dict[str, Any]]:
    app = create_app(settings_for(url), counting_client(url, API_NAME))
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}

    def get(u: str) -> Any:
        reply = client.get(u, headers=headers)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    out: dict[str, dict[str, Any]] = {}
    http_calls = api_calls(http.get, admin, stored)
    for name, call in api_calls(get, admin, stored).items():
        c = cost(call, admin, API_NAME, reps, 15)
        http_p50 = cost_http(http_calls[name], reps)
        out[name] = {**c.__dict__, "http_p50_ms": http_p50}
        print(f"  {stored:>9} {name:<48} {c.row()} http p50 {http_p50:.2f}", flush=True)
    vanilla = counting_client(url, VANILLA_NAME)
    vreps = reps if stored <= 10_000 else 5
    for name, call in vanilla_calls(vanilla, stored).items():
        c = cost(call, admin, VANILLA_NAME, vreps, 1 if stored > 10_000 else 5)
        out[name] = {**c.__dict__, "http_p50_ms": None}
        print(f"  {stored:>9} {name:<48} {c.row()}", flush=True)
    return out


def cost_http(call: Callable[[], Any], reps: int) -> float:
    return latency(call, reps)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobline-bench-"))
    server = RedisServer(directory=str(workdir), appendonly=False).start()
    admin = Redis.from_url(server.url)
    http = None
    try:
        filler = Filler(admin, retention_of(settings_for(server.url)))
        fill_other_queues(filler)
        http = HttpApi(server.url, workdir)
        results: dict[str, Any] = {"redis": admin.info("server")["redis_version"], "sizes": {}}
        stored = 0
        for size in (args.small, args.jobs):
            started = time.monotonic()
            filler.run(MAIN, size - stored, "ok", batch=2000)
            stored = size
            print(f"filled {MAIN} to {stored} completed jobs in {time.monotonic() - started:.0f} s; "
                  f"used_memory {admin.info('memory')['used_memory_human']}", flush=True)  # fmt: skip
            results["sizes"][str(size)] = measure(server.url, admin, http, stored, args.reps)
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    finally:
        if http is not None:
            http.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
