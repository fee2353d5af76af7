"""Compileo's documented Python client functions, unchanged but for the base URL, against Jobline.

Compileo's examples send no token: this system runs with JOBLINE_ANONYMOUS_ROLE=operator (trusted
network). Each test drives one documented outcome: a completed, a failed (then restarted) and a
cancelled job, plus long polling, streaming and the queue health check.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e import compileo_client as client
from tests.e2e.conftest import Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def compileo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory, JOBLINE_ANONYMOUS_ROLE="operator") as running:
        client.BASE_URL = running.url
        yield running


def test_monitor_job_completion_of_a_completed_job(compileo, capsys):
    job = compileo.submit("demo.progress", params={"steps": 2, "delay": 0.1})
    compileo.wait_status(job["id"], "completed")
    final = client.monitor_job_completion(job["id"])
    assert final["status"] == "completed" and final["progress"] == 100.0
    assert f"Job {job['id']}: completed - 100.0%" in capsys.readouterr().out


def test_monitor_job_with_recovery_restarts_a_failed_job(compileo, capsys):
    job = compileo.submit("demo.fail", params={"message": "first try fails"}, maxRetries=0)
    compileo.wait_status(job["id"], "failed")
    final = client.monitor_job_with_recovery(job["id"])
    out = capsys.readouterr().out
    assert f"Job {job['id']} failed: DemoFailure: first try fails" in out
    assert "Job restarted successfully" in out
    assert final is not None and final["status"] == "failed"  # demo.fail fails again, as it should
    history = compileo.job(job["id"])["history"]
    assert len(history) == 2  # the restarted attempt ran


def test_monitor_job_with_recovery_on_a_cancelled_job_asks_first(compileo, capsys, monkeypatch):
    job = compileo.submit("demo.sleep", params={"seconds": 30})
    compileo.wait_status(job["id"], "running")
    assert compileo.anonymous().post(f"{compileo.url}/api/v1/jobs/cancel/{job['id']}", timeout=10).ok
    monkeypatch.setattr(builtins, "input", lambda prompt: "n")
    assert client.monitor_job_with_recovery(job["id"]) is None
    answers = iter(["y"])
    monkeypatch.setattr(builtins, "input", lambda prompt: next(answers))
    restarted: dict[str, object] = {}

    def cancel_again_when_running() -> None:
        compileo.wait_status(job["id"], "running")
        compileo.anonymous().post(f"{compileo.url}/api/v1/jobs/cancel/{job['id']}", timeout=10)

    threading.Thread(target=cancel_again_when_running, daemon=True).start()
    restarted["final"] = client.monitor_job_with_recovery(job["id"])
    assert restarted["final"]["status"] == "cancelled"


def test_wait_for_job_change_returns_on_the_change(compileo):
    job = compileo.submit("demo.sleep", params={"seconds": 1.5})
    compileo.wait_status(job["id"], "running")
    started = time.monotonic()
    changed = client.wait_for_job_change(job["id"], current_status="running", timeout=30)
    assert changed["status"] == "completed"
    assert time.monotonic() - started < 10  # woken by the change, not the 30 s timeout
    unchanged = client.wait_for_job_change(job["id"], current_status="completed", timeout=1)
    assert unchanged["status"] == "completed"


def test_stream_job_updates_ends_at_completion(compileo, capsys):
    job = compileo.submit("demo.progress", params={"steps": 4, "delay": 0.3})
    client.stream_job_updates(job["id"])
    out = capsys.readouterr().out
    assert "Job finished" in out
    updates = [line for line in out.splitlines() if line.startswith("Job Update:")]
    assert "'status': 'completed'" in updates[-1] and "'progress': 100.0" in updates[-1]


def test_check_queue_health(compileo, capsys):
    stats = client.check_queue_health()
    assert stats is not None and stats["queue_type"] == "redis"
    out = capsys.readouterr().out
    assert "Queue health: GOOD" in out or "Queue health: WARNING" in out
