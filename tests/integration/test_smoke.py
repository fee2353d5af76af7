"""Smoke: a job submitted over HTTP runs on a real worker process against a real redis-server."""

from __future__ import annotations

import pytest

from tests.conftest import poll_until

pytestmark = pytest.mark.integration


def test_job_runs_to_completion_on_a_real_worker(real_client, real_auth, processes):
    processes.worker()
    reply = real_client.post(
        "/api/v1/jobs", json={"task": "demo.echo", "params": {"x": 1}}, headers=real_auth
    )
    assert reply.status_code == 201
    job_id = reply.get_json()["id"]

    def done():
        job = real_client.get(f"/api/v1/jobs/{job_id}", headers=real_auth).get_json()
        return job if job["status"] == "completed" else None

    job = poll_until(done, timeout_s=15)
    assert job["result"] == {"x": 1}
    assert job["progress"] == 100
    assert job["workerId"]
    assert job["duration"] is not None


def test_metrics_count_and_time_what_real_workers_did(real_client, real_auth, processes):
    ids = [
        real_client.post(
            "/api/v1/jobs", json={"task": "demo.sleep", "params": {"seconds": 0.3}}, headers=real_auth
        ).get_json()["id"]
        for _ in range(2)
    ]
    processes.worker()  # started after the submits: both jobs waited for it
    poll_until(
        lambda: all(
            real_client.get(f"/api/v1/jobs/{i}", headers=real_auth).get_json()["status"] == "completed"
            for i in ids
        ),
        timeout_s=15,
    )
    samples = {}
    for line in real_client.get("/metrics").get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    assert samples['jobline_jobs_submitted_total{queue="default"}'] == 2
    assert samples['jobline_jobs_finished_total{queue="default",status="completed"}'] == 2
    assert samples['jobline_job_duration_seconds_count{queue="default"}'] == 2
    assert 0.6 <= samples['jobline_job_duration_seconds_sum{queue="default"}'] < 2
    assert samples['jobline_job_duration_seconds_bucket{queue="default",le="0.25"}'] == 0
    assert samples['jobline_job_duration_seconds_bucket{queue="default",le="0.5"}'] == 2
    assert samples['jobline_queue_wait_seconds_count{queue="default"}'] == 2
    assert samples['jobline_queue_wait_seconds_sum{queue="default"}'] >= 0.3  # the 2nd waited for the 1st
    assert samples['jobline_jobs{queue="default",status="completed"}'] == 2
    assert samples["jobline_redis_up"] == 1 and samples['jobline_workers{state="idle"}'] >= 1
