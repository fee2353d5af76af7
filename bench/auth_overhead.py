"""What auth costs per request on a real Redis: signature only, login token (+ revocation), API token.

Run: .venv/bin/python bench/auth_overhead.py [N]
Starts a private redis-server, measures side by side in one run, prints microseconds per call and ratios.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable

from redis import Redis

from app.redis_server import RedisServer
from app.services.wiring import build_auth_service
from app.settings import Settings


def per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(n: int) -> None:
    server = RedisServer(directory=tempfile.mkdtemp(prefix="jobline-bench-"), appendonly=False).start()
    try:
        redis = Redis.from_url(server.url)
        settings = Settings(redis_url=server.url, admin_password="bench-admin-password", login_rate_per_min=0)
        auth = build_auth_service(settings, redis)
        auth.users.bootstrap_admin()
        auth.users.create("alice", "alice-password", "operator")
        login_token = auth.login("admin", "bench-admin-password").token
        _, api_token = auth.tokens.create("bench", "operator")
        rows = {
            "signature only (no Redis; the old stateless check)": lambda: auth._claims(login_token),
            "login token (signature + stamp + logout check)": lambda: auth.principal_for(login_token),
            "API token (SHA-256 + one HGETALL)": lambda: auth.principal_for(api_token),
        }
        results = {name: per_call_us(fn, n) for name, fn in rows.items()}
        scrypt_ms = per_call_us(lambda: auth.users.authenticate("alice", "alice-password"), 20) / 1000
    finally:
        server.stop()
    base = results["signature only (no Redis; the old stateless check)"]
    print(f"N={n} calls each, private redis-server on localhost")
    for name, us in results.items():
        print(f"  {name:<55} {us:8.1f} us/call   x{us / base:5.1f}")
    print(f"  password login (scrypt N=2^15 r=8 p=1), 20 calls          {scrypt_ms:8.1f} ms/call")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
