"""Integration fixtures: settings that load the test tasks, and a small client for the jobs API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from tests.conftest import make_settings, poll_until

TASK_MODULE = "tests.integration.tasks"


@pytest.fixture
def real_settings(redis_server: Any) -> Settings:
    """As the shared fixture, plus the test tasks (the API in this process and the workers load them)."""
    return make_settings(redis_url=redis_server.url, task_modules=(TASK_MODULE,))


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next((line for line in status.splitlines() if line.startswith("State:")), "")
    return "Z" not in state.split(":", 1)[1][:3] if state else False


def read_pid(path: Path, timeout_s: float = 15.0) -> int:
    return int(poll_until(lambda: path.exists() and path.read_text().strip(), timeout_s))


class Api:
    """The jobs API through Flask's test client, with the admin's token."""

    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def submit(
        self, task: str = "demo.noop", expect: int = 201, headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        reply = self.client.post(
            "/api/v1/jobs", json={"task": task, **body}, headers={**self.auth, **(headers or {})}
        )
        assert reply.status_code == expect, reply.get_json()
        return reply.get_json()

    def get(self, job_id: str) -> dict[str, Any]:
        reply = self.client.get(f"/api/v1/jobs/{job_id}", headers=self.auth)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    def action(self, job_id: str, verb: str, expect: int = 200) -> dict[str, Any]:
        reply = self.client.post(f"/api/v1/jobs/{job_id}/{verb}", headers=self.auth)
        assert reply.status_code == expect, reply.get_json()
        return reply.get_json()

    def delete(self, job_id: str, force: bool = False) -> Any:
        query = "?force=true" if force else ""
        return self.client.delete(f"/api/v1/jobs/{job_id}{query}", headers=self.auth)

    def list(self, **query: Any) -> dict[str, Any]:
        reply = self.client.get("/api/v1/jobs", query_string=query, headers=self.auth)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    def wait(self, job_id: str, *statuses: str, timeout_s: float = 20.0) -> dict[str, Any]:
        """Poll until the job is in one of `statuses`; return it."""

        def reached() -> dict[str, Any] | None:
            job = self.get(job_id)
            return job if job["status"] in statuses else None

        return poll_until(reached, timeout_s, interval_s=0.05)


@pytest.fixture
def api(real_client: Any, real_auth: dict[str, str]) -> Api:
    return Api(real_client, real_auth)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failure, attach the logs of the test's jobline processes to the report."""
    report = yield
    procs = getattr(item, "funcargs", {}).get("processes")
    if report.failed and procs is not None:
        report.sections.append(("jobline process logs", procs.logs()[-20000:]))
    return report
