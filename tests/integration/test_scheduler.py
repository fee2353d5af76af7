"""Workflows with real `jobline scheduler` and `jobline worker` processes on a private redis-server."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import poll_until

pytestmark = pytest.mark.integration


def start_at(seconds_ahead: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).isoformat()


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def create(client, auth, **body):
    payload = {"name": "tick", "task": "demo.noop", "interval": 1, "startAt": start_at(1.0)} | body
    reply = client.post("/api/v1/workflows", json=payload, headers=auth)
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def automatic(client, auth, workflow_id):
    page = client.get(f"/api/v1/jobs?workflowId={workflow_id}&trigger=AUTOMATIC&limit=1000", headers=auth)
    return sorted(page.get_json()["data"], key=lambda j: j["scheduledAt"])


def assert_on_grid_without_gaps(jobs, anchor_ms, interval_ms=1000):
    planned = [ms(j["scheduledAt"]) for j in jobs]
    assert len(planned) == len(set(planned)), "a planned time was enqueued twice"
    assert all((p - anchor_ms) % interval_ms == 0 for p in planned), planned
    assert all(b - a == interval_ms for a, b in zip(planned, planned[1:], strict=False)), planned
    for job in jobs:
        assert ms(job["createdAt"]) - ms(job["scheduledAt"]) < 1000, job


def test_two_schedulers_enqueue_each_planned_run_exactly_once(real_client, real_auth, processes):
    processes.start("scheduler", "--name", "s1")
    processes.start("scheduler", "--name", "s2")
    processes.worker()
    wf = create(real_client, real_auth)
    time.sleep(7.0)
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    jobs = automatic(real_client, real_auth, wf["id"])
    assert 5 <= len(jobs) <= 7
    assert_on_grid_without_gaps(jobs, ms(wf["startAt"]))
    assert ms(jobs[0]["scheduledAt"]) == ms(wf["startAt"])
    poll_until(
        lambda: all(j["status"] == "completed" for j in automatic(real_client, real_auth, wf["id"])), 15
    )
    after = real_client.get(f"/api/v1/workflows/{wf['id']}", headers=real_auth).get_json()
    assert after["runCount"] == len(jobs) and after["lastJobId"] == jobs[-1]["id"]
    metrics = real_client.get("/metrics").get_data(as_text=True)
    assert f'jobline_scheduler_lag_seconds_count{{queue="default"}} {len(jobs)}\n' in metrics
    assert 'jobline_scheduler_lag_seconds_bucket{queue="default",le="1"} ' + str(len(jobs)) in metrics
    assert "jobline_schedulers 2\n" in metrics


def test_killing_one_of_two_schedulers_loses_no_run(real_client, real_auth, processes):
    victim = processes.start("scheduler", "--name", "victim")
    processes.start("scheduler", "--name", "survivor")
    wf = create(real_client, real_auth)
    time.sleep(2.5)
    os.killpg(victim.pid, signal.SIGKILL)
    time.sleep(4.0)
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    jobs = automatic(real_client, real_auth, wf["id"])
    assert len(jobs) >= 5
    assert_on_grid_without_gaps(jobs, ms(wf["startAt"]))


def test_pause_stops_runs_and_resume_continues_on_the_grid(real_client, real_auth, processes):
    processes.start("scheduler")
    wf = create(real_client, real_auth)
    poll_until(lambda: len(automatic(real_client, real_auth, wf["id"])) >= 2, 10)
    real_client.post(f"/api/v1/workflows/{wf['id']}/pause", headers=real_auth)
    paused_count = len(automatic(real_client, real_auth, wf["id"]))
    time.sleep(2.5)
    assert len(automatic(real_client, real_auth, wf["id"])) == paused_count
    resumed = real_client.post(f"/api/v1/workflows/{wf['id']}/resume", headers=real_auth).get_json()
    assert (ms(resumed["nextRunAt"]) - ms(wf["startAt"])) % 1000 == 0
    poll_until(lambda: len(automatic(real_client, real_auth, wf["id"])) >= paused_count + 2, 10)
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    planned = [ms(j["scheduledAt"]) for j in automatic(real_client, real_auth, wf["id"])]
    assert all((p - ms(wf["startAt"])) % 1000 == 0 for p in planned)
    assert len(planned) == len(set(planned))


def test_consecutive_failures_pause_the_workflow(real_client, real_auth, processes):
    processes.start("scheduler")
    processes.worker()
    wf = create(
        real_client,
        real_auth,
        task="demo.fail",
        params={"message": "nope"},
        maxRetries=0,
        maxConsecutiveFailures=2,
    )

    def paused():
        body = real_client.get(f"/api/v1/workflows/{wf['id']}", headers=real_auth).get_json()
        return body if body["status"] == "paused" else None

    body = poll_until(paused, 15)
    assert body["consecutiveFailures"] == 2
    assert "2 consecutive failed runs" in body["pausedReason"]
    count = len(automatic(real_client, real_auth, wf["id"]))
    time.sleep(2.0)
    assert len(automatic(real_client, real_auth, wf["id"])) == count


def test_manual_runs_of_a_terminated_workflow_run_on_a_worker(real_client, real_auth, processes):
    processes.worker()
    wf = create(real_client, real_auth, task="demo.echo", params={"a": 1})
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    run = real_client.post(f"/api/v1/workflows/{wf['id']}/run", json={"params": {"b": 2}}, headers=real_auth)
    execute = real_client.post(
        f"/api/v1/workflows/{wf['id']}/execute-async",
        json={"inputData": [{"json": {"c": 3}}]},
        headers=real_auth,
    )
    assert run.status_code == 201 and execute.status_code == 202
    for job_id in (run.get_json()["id"], execute.get_json()["jobId"]):
        job = poll_until(
            lambda job_id=job_id: (
                (j := real_client.get(f"/api/v1/executions/{job_id}", headers=real_auth).get_json())["status"]
                == "completed"
                and j
            ),
            15,
        )
        assert job["trigger"] == "MANUAL" and job["workflowId"] == wf["id"]
    assert automatic(real_client, real_auth, wf["id"]) == []


def test_runs_missed_while_no_scheduler_ran_become_one_catch_up_run(real_client, real_auth, processes):
    wf = create(real_client, real_auth, startAt=start_at(0.2))
    anchor = ms(wf["startAt"])
    time.sleep(3.9)  # the points at +0.2 .. +3.2 s pass with no scheduler up
    processes.start("scheduler")
    poll_until(lambda: automatic(real_client, real_auth, wf["id"]), 10)
    time.sleep(2.2)
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    jobs = automatic(real_client, real_auth, wf["id"])
    catch_up = jobs[0]
    assert ms(catch_up["scheduledAt"]) - anchor >= 3000  # missed points are not replayed one by one
    caught_at = ms(catch_up["createdAt"])
    assert [j for j in jobs if ms(j["scheduledAt"]) <= caught_at] == [catch_up]  # one run for all missed
    assert_on_grid_without_gaps(jobs[1:], anchor)
    assert ms(jobs[1]["scheduledAt"]) - ms(catch_up["scheduledAt"]) == 1000  # then back on the grid


def test_overlap_skip_never_runs_two_runs_of_a_workflow_at_once(real_client, real_auth, processes):
    """RELIABILITY C6: 1 s interval, 2.5 s job, two workers free to run runs side by side."""
    processes.start("scheduler", "--name", "s1")
    processes.worker("--name", "w1")
    processes.worker("--name", "w2")
    wf = create(real_client, real_auth, task="demo.sleep", params={"seconds": 2.5}, overlap="skip")
    time.sleep(8.0)
    real_client.delete(f"/api/v1/workflows/{wf['id']}", headers=real_auth)
    poll_until(
        lambda: all(j["status"] == "completed" for j in automatic(real_client, real_auth, wf["id"])), 15
    )
    jobs = automatic(real_client, real_auth, wf["id"])
    assert 2 <= len(jobs) <= 4, [j["scheduledAt"] for j in jobs]
    anchor = ms(wf["startAt"])
    assert all((ms(j["scheduledAt"]) - anchor) % 1000 == 0 for j in jobs)  # runs stay on the grid
    spans = [(ms(j["startedAt"]), ms(j["completedAt"])) for j in jobs]
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False)), spans  # never side by side
    after = real_client.get(f"/api/v1/workflows/{wf['id']}", headers=real_auth).get_json()
    assert after["skippedRuns"] >= 2 * (len(jobs) - 1)
    assert after["runCount"] == len(jobs)
