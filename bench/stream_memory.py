"""Memory per open connection of one API process: idle event streams, long polls, /events readers.

    .venv/bin/python -m bench.stream_memory [--connections 1000] [--kind stream poll events]
        [--worker-class gevent gthread]

For each worker class and kind: a private redis-server and `jobline api` with one gunicorn worker; the
process's RSS at rest, then with `--connections` idle requests of that kind open (plain sockets, opened
100 at a time), and the difference per connection. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.redis_server import RedisServer, free_port
from bench.measure import http_login
from bench.realtime_bench import rss_kb, worker_pid

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"


def paths(kind: str, job_id: str) -> str:
    return {
        "stream": f"/api/v1/jobs/{job_id}/stream",
        "poll": f"/api/v1/jobs/{job_id}/poll?timeout=300&currentStatus=pending",
        "events": "/api/v1/events",
    }[kind]


def measure(worker_class: str, kind: str, connections: int, tmp: Path) -> dict[str, object]:
    redis = RedisServer(directory=str(tmp / f"redis-{worker_class}-{kind}")).start()
    port = free_port()
    env = dict(
        os.environ,
        REDIS_URL=redis.url,
        JOBLINE_ADMIN_PASSWORD=PASSWORD,
        JOBLINE_API_WORKERS="1",
        JOBLINE_API_WORKER_CLASS=worker_class,
        JOBLINE_API_CONNECTIONS=str(connections + 500),
        JOBLINE_API_THREADS=str(connections + 100),
        JOBLINE_LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT),
    )
    log = (tmp / f"api-{worker_class}-{kind}.log").open("wb")
    api = subprocess.Popen(
        [sys.executable, "-m", "app", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    socks: list[socket.socket] = []
    try:
        token = http_login(port, PASSWORD)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/api/v1/jobs",
            json.dumps({"task": "demo.noop", "queue": "idle"}),  # no worker: it stays pending
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        job_id = json.loads(conn.getresponse().read())["id"]
        pid = worker_pid(api.pid)
        time.sleep(1)
        at_rest = rss_kb(pid)
        request = f"GET {paths(kind, job_id)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        for i in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(request.encode())
            socks.append(sock)
            if i % 100 == 99:
                print(f"  {worker_class} {kind}: {i + 1} open", file=sys.stderr, flush=True)
                time.sleep(0.2)
        time.sleep(3)  # every request has been served up to its wait
        loaded = rss_kb(pid)
        return {
            "worker_class": worker_class,
            "kind": kind,
            "connections": connections,
            "rss_mb_at_rest": round(at_rest / 1024, 1),
            "rss_mb_open": round(loaded / 1024, 1),
            "kb_per_connection": round((loaded - at_rest) / connections, 1),
        }
    finally:
        for sock in socks:
            sock.close()
        api.terminate()
        try:
            api.wait(timeout=20)
        except subprocess.TimeoutExpired:
            api.kill()
        redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--kind", nargs="+", default=["stream", "poll", "events"])
    parser.add_argument("--worker-class", nargs="+", default=["gevent", "gthread"])
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="jobline-stream-memory-") as tmp:
        for worker_class in args.worker_class:
            for kind in args.kind:
                print(json.dumps(measure(worker_class, kind, args.connections, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
