"""Jobs on real `jobline worker` processes: results, retry delays, timeouts, cancel, delete, retry."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import keys
from app.api.schemas.common import iso_ms
from tests.conftest import poll_until
from tests.integration.conftest import parse_time, pid_alive, read_pid

pytestmark = pytest.mark.integration


def test_job_goes_pending_running_completed_with_result(api, processes):
    job = api.submit("demo.progress", params={"steps": 4, "delay": 0.25}, title="tour", maxRetries=2)
    assert job["status"] == "pending" and job["startedAt"] is None and job["workerId"] is None
    processes.worker("--name", "w-life")
    running = api.wait(job["id"], "running", "completed")
    assert running["status"] == "running" and running["workerId"] == "w-life"
    assert running["startedAt"] is not None and running["completedAt"] is None
    midway = poll_until(lambda: (j := api.get(job["id"]))["currentStep"] and j, 10)
    assert midway["currentStep"].startswith("Step ") and 0 < midway["progress"] <= 100
    done = api.wait(job["id"], "completed")
    assert done["result"] == {"steps": 4}
    assert done["progress"] == 100 and done["currentStep"] == "Step 4 of 4"
    assert done["error"] is None and done["stacktrace"] is None
    assert (done["retryCount"], done["maxRetries"], done["workerId"]) == (0, 2, "w-life")
    started, completed = parse_time(done["startedAt"]), parse_time(done["completedAt"])
    assert parse_time(done["createdAt"]) <= started < completed
    assert done["duration"] == pytest.approx((completed - started).total_seconds() * 1000, abs=2)
    assert done["duration"] >= 1000  # four steps of 0.25 s
    assert [(h["attempt"], h["status"]) for h in done["history"]] == [(1, "completed")]

    ctx_job = api.submit("itest.context", params={"label": "ctx"}, queue="default")
    with_ctx = api.wait(ctx_job["id"], "completed")
    assert with_ctx["result"] == {
        "id": ctx_job["id"],
        "attempt": 1,
        "queue": "default",
        "task": "itest.context",
    }
    assert (with_ctx["progress"], with_ctx["currentStep"]) == (100, "half of ctx")


def test_failing_job_is_retried_with_the_configured_delays(api, processes):
    processes.worker("--name", "w-retry", env={"JOBLINE_RETRY_DELAYS": "0,1,2"})
    job = api.submit("demo.fail", params={"message": "boom"}, maxRetries=3)
    assert api.wait(job["id"], "scheduled", "failed")["status"] == "scheduled"  # waiting for retry 2 or 3
    failed = api.wait(job["id"], "failed", timeout_s=30)
    assert failed["error"] == "DemoFailure: boom"
    assert any("DemoFailure" in line for line in failed["stacktrace"])
    assert failed["retryCount"] == failed["maxRetries"] == 3
    history = failed["history"]
    assert [(h["attempt"], h["status"], h["error"]) for h in history] == [
        (n, "failed", "DemoFailure: boom") for n in (1, 2, 3, 4)
    ]
    gaps = [
        (parse_time(nxt["startedAt"]) - parse_time(prev["completedAt"])).total_seconds()
        for prev, nxt in zip(history, history[1:], strict=False)
    ]
    for gap, delay in zip(gaps, (0, 1, 2), strict=True):
        assert delay <= gap < delay + 3, gaps  # never early; late only by load


def test_timeout_fails_the_job_and_the_worker_goes_on(api, processes):
    processes.worker("--name", "w-timeout")
    job = api.submit("demo.sleep", params={"seconds": 5}, timeout=1, maxRetries=0)
    failed = api.wait(job["id"], "failed", timeout_s=20)
    assert failed["error"] == "Timeout after 1 s"
    assert 1000 <= failed["duration"] < 4000
    nxt = api.submit("demo.echo", params={"after": "timeout"})
    done = api.wait(nxt["id"], "completed")
    assert done["result"] == {"after": "timeout"} and done["workerId"] == "w-timeout"


def test_cancel_stops_a_running_job_within_2_s(api, processes, tmp_path, real_redis):
    # Heartbeats 5 s apart: the stop must come over the command channel, not from a heartbeat's answer.
    processes.worker("--name", "w-cancel", env={"JOBLINE_HEARTBEAT": "5", "JOBLINE_LEASE": "30"})
    pidfile = tmp_path / "task.pid"
    job = api.submit("itest.pid_sleep", params={"pidfile": str(pidfile), "seconds": 30}, maxRetries=3)
    api.wait(job["id"], "running")
    pid = read_pid(pidfile)
    assert pid_alive(pid)
    for junk in (b"not json", b'{"command": "stop-job"}', b'{"no": "command"}', b"[1]"):
        real_redis.publish(keys.RQ_PUBSUB + "w-cancel", junk)  # must not silence the channel
    time.sleep(0.3)
    started = time.monotonic()
    canceled = api.action(job["id"], "cancel")
    assert canceled["status"] == "canceled"
    poll_until(lambda: not pid_alive(pid), timeout_s=5, interval_s=0.01)
    assert time.monotonic() - started < 2.0
    nxt = api.submit("demo.echo", params={"n": 1})
    assert api.wait(nxt["id"], "completed")["workerId"] == "w-cancel"
    final = api.get(job["id"])
    assert final["status"] == "canceled" and final["retryCount"] == 0 and final["result"] is None
    assert [(h["status"], h["workerId"]) for h in final["history"]] == [("canceled", "w-cancel")]


def test_a_scheduled_job_never_starts_before_its_time(api, processes):
    processes.worker("--name", "w-sched")
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    job = api.submit("demo.noop", scheduledAt=iso_ms(at))
    assert job["status"] == "scheduled" and parse_time(job["scheduledAt"]) == parse_time(iso_ms(at))
    done = api.wait(job["id"], "completed", timeout_s=15)
    assert parse_time(done["startedAt"]) >= parse_time(done["scheduledAt"])
    assert parse_time(done["startedAt"]) - parse_time(done["scheduledAt"]) < timedelta(seconds=3)


def test_canceled_pending_and_scheduled_jobs_never_run(api, processes):
    pending = api.submit("demo.echo", params={"which": "pending"})
    at = datetime.now(UTC) + timedelta(seconds=1)
    scheduled = api.submit("demo.echo", params={"which": "scheduled"}, scheduledAt=iso_ms(at))
    assert api.action(pending["id"], "cancel")["status"] == "canceled"
    assert api.action(scheduled["id"], "abort")["status"] == "canceled"
    processes.worker("--name", "w-never")
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.5)  # past the scheduled time
    marker = api.submit("demo.echo", params={"which": "marker"})
    api.wait(marker["id"], "completed")
    for job_id in (pending["id"], scheduled["id"]):
        job = api.get(job_id)
        assert job["status"] == "canceled" and job["startedAt"] is None and job["history"] == []
        api.action(job_id, "cancel", expect=409)


def test_delete_a_running_job_needs_force_and_stops_it(api, processes, tmp_path):
    processes.worker("--name", "w-delete")
    pidfile = tmp_path / "task.pid"
    job = api.submit("itest.pid_sleep", params={"pidfile": str(pidfile), "seconds": 30})
    api.wait(job["id"], "running")
    pid = read_pid(pidfile)
    reply = api.delete(job["id"])
    assert reply.status_code == 409 and reply.get_json()["code"] == "CONFLICT"
    assert api.get(job["id"])["status"] == "running" and pid_alive(pid)
    assert api.delete(job["id"], force=True).status_code == 204
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth).status_code == 404
    poll_until(lambda: not pid_alive(pid), timeout_s=5)
    nxt = api.submit("demo.echo", params={"after": "delete"})
    assert api.wait(nxt["id"], "completed")["workerId"] == "w-delete"
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth).status_code == 404


def test_retry_keeps_earlier_attempts_in_history(api, processes, tmp_path):
    processes.worker("--name", "w-again")
    failed = api.submit("demo.fail", params={"message": "first"}, maxRetries=0)
    api.wait(failed["id"], "failed")
    again = api.action(failed["id"], "retry")
    assert again["status"] in ("pending", "running", "failed") and again["id"] == failed["id"]
    done = api.wait(failed["id"], "failed")
    assert done["retryCount"] == 0
    assert [(h["attempt"], h["status"], h["error"]) for h in done["history"]] == [
        (1, "failed", "DemoFailure: first"),
        (2, "failed", "DemoFailure: first"),
    ]

    pidfile = tmp_path / "task.pid"
    sleeper = api.submit("itest.pid_sleep", params={"pidfile": str(pidfile), "seconds": 30})
    api.wait(sleeper["id"], "running")
    read_pid(pidfile)
    api.action(sleeper["id"], "cancel")
    pidfile.unlink()
    api.action(sleeper["id"], "restart")
    api.wait(sleeper["id"], "running")
    read_pid(pidfile)
    api.action(sleeper["id"], "cancel")
    final = api.get(sleeper["id"])
    assert [h["status"] for h in final["history"]] == ["canceled", "canceled"]
    assert all(h["startedAt"] and h["completedAt"] for h in final["history"])


def test_a_poison_pill_uses_its_retries_then_fails_and_the_worker_lives_on(api, processes):
    """RELIABILITY A6: a job that kills the process running it on every attempt."""
    worker = processes.worker()
    job = api.submit("itest.poison", maxRetries=3)
    failed = api.wait(job["id"], "failed", timeout_s=30)
    assert failed["retryCount"] == 3 and len(failed["history"]) == 4  # exactly 4 attempts
    assert failed["error"] == "Worker child process killed by signal 9 (SIGKILL) while running the job"
    assert all("signal 9" in attempt["error"] for attempt in failed["history"])
    after = api.submit("demo.echo", params={"ok": True})
    assert api.wait(after["id"], "completed")["result"] == {"ok": True}
    assert worker.poll() is None


def test_a_rolling_restart_loses_nothing(api, processes, real_settings, real_redis):
    """RELIABILITY A3: SIGTERM every worker while a short and a long job run, start a new one. The short
    job finishes on its old worker within the grace; the long one goes back to the front of its queue
    (not a failure, no retry used) and runs once more on the new worker; the old workers exit."""
    grace = real_settings.shutdown_grace_s
    old = [processes.worker("--name", "w-old1"), processes.worker("--name", "w-old2")]
    short = api.submit("demo.sleep", params={"seconds": grace / 2})
    long = api.submit("demo.sleep", params={"seconds": grace + 3})
    api.wait(short["id"], "running")
    api.wait(long["id"], "running")
    for proc in old:
        proc.send_signal(signal.SIGTERM)
    for proc in old:
        assert proc.wait(timeout=grace + 5) == 0
    processes.worker("--name", "w-new")
    done_short = api.wait(short["id"], "completed")
    assert done_short["workerId"] in ("w-old1", "w-old2") and len(done_short["history"]) == 1
    done_long = api.wait(long["id"], "completed", timeout_s=grace + 15)
    assert done_long["workerId"] == "w-new" and done_long["retryCount"] == 0
    assert [a["status"] for a in done_long["history"]] == ["interrupted", "completed"]
    assert real_redis.zcard(keys.started("default")) == 0
