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
