"""Listing benchmark: queue counts, pages and stats at 1,000 and 1,000,000 stored finished jobs, in one run,
side by side with vanilla rq-dashboard-style access (whole registry read, one round trip per job).

    .venv/bin/python -m bench.listing --jobs 1000000 --out docs/bench-listing.json

Two private redis-servers are filled first (1,000 and 1,000,000 completed jobs in the main queue,
plus 9 small queues each), then every call is timed on both alternately, so machine load hits both.
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
from bench.measure import accounting, counting_client, latency_pair

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
            [sys.executable, "-m", "app", "api", "--host", "127.0.0.1", "--port", str(self.port)],
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


class Side:
    """One Redis server with `stored` completed jobs in the main queue, and every way of reading it."""

    def __init__(self, stored: int, workdir: Path) -> None:
        self.stored = stored
        self.server = RedisServer(directory=str(workdir / f"redis-{stored}"), appendonly=False).start()
        self.url = self.server.url
        self.admin = Redis.from_url(self.url)
        filler = Filler(self.admin, retention_of(settings_for(self.url)))
        fill_other_queues(filler)
        started = time.monotonic()
        filler.run(MAIN, stored, "ok", batch=2000)
        memory = self.admin.info("memory")["used_memory_human"]
        print(f"filled {MAIN} with {stored} completed jobs in {time.monotonic() - started:.0f} s ({memory})")
        self.http = HttpApi(self.url, workdir)
        app = create_app(settings_for(self.url), counting_client(self.url, API_NAME))
        self.client = app.test_client()
        token = self.client.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
        self.api = api_calls(self.get, self.admin, stored)
        self.over_http = api_calls(self.http.get, self.admin, stored)
        self.vanilla = vanilla_calls(counting_client(self.url, VANILLA_NAME), stored)

    def get(self, url: str) -> Any:
        reply = self.client.get(url, headers=self.headers)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    def stop(self) -> None:
        self.http.stop()
        self.server.stop()


def compare(
    name: str, small: Side, big: Side, calls: str, reps: int, client_name: str, acct_reps: int
) -> dict[str, Any]:
    """Time one call on both sides alternately, then count its round trips and server time on each."""
    (s50, s95), (b50, b95) = latency_pair(getattr(small, calls)[name], getattr(big, calls)[name], reps)
    row: dict[str, Any] = {"name": name}
    for side, p50, p95 in ((small, s50, s95), (big, b50, b95)):
        trips, commands, server_us = accounting(
            getattr(side, calls)[name], side.admin, client_name, acct_reps
        )
        row[str(side.stored)] = {
            "p50_ms": round(p50, 2),
            "p95_ms": round(p95, 2),
            "round_trips": trips,
            "commands": commands,
            "server_us": round(server_us),
        }
    row["ratio_p50"] = round(b50 / s50, 2)
    if calls == "api":
        (h_small, _), (h_big, _) = latency_pair(small.over_http[name], big.over_http[name], reps)
        row[str(small.stored)]["http_p50_ms"] = round(h_small, 2)
        row[str(big.stored)]["http_p50_ms"] = round(h_big, 2)
        row["ratio_http_p50"] = round(h_big / h_small, 2)
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobline-bench-"))
    sides: list[Side] = []
    try:
        sides.append(Side(args.small, workdir))
        sides.append(Side(args.jobs, workdir))
        small, big = sides
        rows = [compare(n, small, big, "api", args.reps, API_NAME, 15) for n in small.api]
        rows += [compare(n, small, big, "vanilla", 5, VANILLA_NAME, 1) for n in small.vanilla]
        results = {
            "redis": small.admin.info("server")["redis_version"],
            "load_average": os.getloadavg(),
            "rows": rows,
        }
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    finally:
        for side in sides:
            side.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
