"""Measuring helpers: client-side latency percentiles, Redis round trips and Redis server time per call."""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.connection import Connection, ConnectionPool


class CountingConnection(Connection):
    """A redis-py connection that counts what it sends: one send = one round trip (a pipeline is one)."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sends += 1
        super().send_packed_command(command, check_health)


def counting_client(url: str, name: str) -> Redis:
    pool = ConnectionPool.from_url(url, connection_class=CountingConnection, client_name=name)
    return Redis(connection_pool=pool)


@dataclass
class Cost:
    """One call's cost: client-side latency (ms), Redis round trips, commands and server time (µs)."""

    p50_ms: float
    p95_ms: float
    round_trips: float
    commands: float
    server_us: float
    reps: int

    def row(self) -> list[str]:
        return [
            f"{self.p50_ms:.2f}",
            f"{self.p95_ms:.2f}",
            f"{self.round_trips:g}",
            f"{self.commands:g}",
            f"{self.server_us:.0f}",
        ]


def latency(call: Callable[[], Any], reps: int, warm: int = 3) -> tuple[float, float]:
    """(p50, p95) in ms of `call` over `reps` runs."""
    for _ in range(warm):
        call()
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return statistics.median(samples), p95


def latency_pair(
    small: Callable[[], Any], big: Callable[[], Any], reps: int, warm: int = 3
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p95) in ms of two calls timed alternately, so that load on the machine hits both alike."""
    for _ in range(warm):
        small()
        big()
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(reps):
        order = ((0, small), (1, big)) if i % 2 == 0 else ((1, big), (0, small))
        for side, call in order:
            started = time.perf_counter()
            call()
            samples[side].append((time.perf_counter() - started) * 1000)
    out = []
    for values in samples:
        values.sort()
        out.append((statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.95))]))
    return out[0], out[1]


def accounting(
    call: Callable[[], Any], admin: Redis, client_name: str, reps: int
) -> tuple[float, float, float]:
    """(round trips, commands, server µs) per call, medians over `reps`; server time from SLOWLOG at 0 µs.

    A script counts as one command (SLOWLOG records the EVALSHA with its whole run time)."""
    admin.config_set("slowlog-max-len", 1_000_000)
    admin.config_set("slowlog-log-slower-than", 0)
    trips, commands, server = [], [], []
    try:
        for _ in range(reps):
            admin.slowlog_reset()
            before = CountingConnection.sends
            call()
            trips.append(CountingConnection.sends - before)
            entries = [e for e in admin.slowlog_get(1_000_000) if _name(e) == client_name]
            commands.append(len(entries))
            server.append(sum(int(e["duration"]) for e in entries))
    finally:
        admin.config_set("slowlog-log-slower-than", 10_000)
        admin.slowlog_reset()
    return statistics.median(trips), statistics.median(commands), statistics.median(server)


def _name(entry: dict[str, Any]) -> str:
    name = entry.get("client_name", b"")
    return name.decode() if isinstance(name, bytes) else str(name)


def http_login(port: int, password: str, login: str = "admin", wait_s: float = 30.0) -> str:
    """A login token from the API on 127.0.0.1:`port`, waiting up to `wait_s` for it to start."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            body = json.dumps({"login": login, "password": password})
            conn.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
            return str(json.loads(conn.getresponse().read())["token"])
        except (OSError, KeyError, ValueError):
            if time.monotonic() > deadline:
                raise SystemExit("the API did not start: see its log") from None
            time.sleep(0.1)
