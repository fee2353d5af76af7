"""The workflows endpoints over the Flask test client (fakeredis): shapes, validation, manual runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def create(client, auth, **body):
    payload = {"name": "sync", "task": "demo.echo", "params": {"a": 1}, "interval": 60} | body
    return client.post("/api/v1/workflows", json=payload, headers=auth)


def test_create_answers_the_workflow_object(client, auth):
    reply = create(client, auth, maxConsecutiveFailures=3)
    assert reply.status_code == 201
    wf = reply.get_json()
    assert set(wf) >= {
        "id",
        "name",
        "task",
        "queue",
        "params",
        "priority",
        "timeout",
        "maxRetries",
        "interval",
        "cron",
        "timezone",
        "status",
        "pausedReason",
        "nextRunAt",
        "lastRunAt",
        "lastJobId",
        "runCount",
        "consecutiveFailures",
        "maxConsecutiveFailures",
        "createdAt",
        "updatedAt",
    }
    assert wf["status"] == "active" and wf["interval"] == 60 and wf["cron"] is None
    assert wf["nextRunAt"].endswith("Z") and wf["runCount"] == 0
    assert reply.headers["Location"].endswith(wf["id"])
    assert client.get(f"/api/v1/workflows/{wf['id']}", headers=auth).get_json() == wf
    assert [w["id"] for w in client.get("/api/v1/workflows", headers=auth).get_json()["workflows"]] == [
        wf["id"]
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interval": 0.5}, "interval"),
        ({"interval": 5, "cron": "* * * * *"}, "cron"),
        ({"interval": None, "cron": "not cron"}, "cron"),
        ({"interval": None, "cron": "* * * * *", "timezone": "Nowhere/City"}, "timezone"),
        ({"task": "no.such.task"}, "task"),
        ({"params": {"nope": 1}, "task": "demo.sleep"}, "params"),
        ({"startAt": (datetime.now(UTC) + timedelta(days=400)).isoformat()}, "startAt"),
        ({"startAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}, "startAt"),
        ({"unknownField": 1}, "unknownField"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_workflows_get_a_400_naming_the_field(client, auth, body, field):
    reply = create(client, auth, **body)
    assert reply.status_code == 400
    error = reply.get_json()
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"], error


def test_patch_pause_resume_delete(client, auth):
    wf = create(client, auth).get_json()
    patched = client.patch(
        f"/api/v1/workflows/{wf['id']}", json={"cron": "0 12 * * *", "timezone": "Asia/Tokyo"}, headers=auth
    ).get_json()
    assert patched["cron"] == "0 12 * * *" and patched["interval"] is None
    assert patched["nextRunAt"].endswith("T03:00:00.000Z")
    paused = client.post(f"/api/v1/workflows/{wf['id']}/pause", headers=auth).get_json()
    assert paused["status"] == "paused" and paused["nextRunAt"] is None
    resumed = client.post(f"/api/v1/workflows/{wf['id']}/resume", headers=auth).get_json()
    assert resumed["status"] == "active" and resumed["nextRunAt"] == patched["nextRunAt"]
    assert client.delete(f"/api/v1/workflows/{wf['id']}", headers=auth).status_code == 204
    gone = client.get(f"/api/v1/workflows/{wf['id']}", headers=auth).get_json()
    assert gone["status"] == "terminated" and gone["nextRunAt"] is None
    assert (
        client.patch(f"/api/v1/workflows/{wf['id']}", json={"interval": 5}, headers=auth).status_code == 409
    )


def test_run_makes_a_manual_job_even_for_a_terminated_workflow(client, auth):
    wf = create(client, auth).get_json()
    client.delete(f"/api/v1/workflows/{wf['id']}", headers=auth)
    reply = client.post(
        f"/api/v1/workflows/{wf['id']}/run", json={"params": {"b": 2}, "priority": 4}, headers=auth
    )
    assert reply.status_code == 201
    job = reply.get_json()
    assert job["trigger"] == "MANUAL" and job["workflowId"] == wf["id"] and job["workflowName"] == "sync"
    assert job["params"] == {"a": 1, "b": 2} and job["priority"] == 4 and job["status"] == "pending"
    after = client.get(f"/api/v1/workflows/{wf['id']}", headers=auth).get_json()
    assert after["lastJobId"] == job["id"] and after["runCount"] == 1


def test_run_can_be_scheduled_later(client, auth):
    wf = create(client, auth).get_json()
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job = client.post(f"/api/v1/workflows/{wf['id']}/run", json={"scheduledAt": at}, headers=auth).get_json()
    assert job["status"] == "scheduled" and job["scheduledAt"]


def test_execute_async_answers_as_the_seed_workflow_engine_documents(client, auth):
    wf = create(client, auth, params={}).get_json()
    reply = client.post(
        f"/api/v1/workflows/{wf['id']}/execute-async",
        json={"inputData": [{"json": {"key": "value"}}], "priority": 5},
        headers=auth,
    )
    assert reply.status_code == 202
    body = reply.get_json()
    assert set(body) == {"jobId", "status"} and body["status"] == "pending"
    job = client.get(f"/api/v1/executions/{body['jobId']}", headers=auth).get_json()
    assert job["inputData"] == [{"json": {"key": "value"}}]
    assert job["params"] == {"key": "value"} and job["priority"] == 5 and job["workflowId"] == wf["id"]


def test_workflow_jobs_are_listed_and_filtered_by_trigger(client, auth):
    wf = create(client, auth).get_json()
    for _ in range(3):
        client.post(f"/api/v1/workflows/{wf['id']}/run", json={}, headers=auth)
    page = client.get(f"/api/v1/workflows/{wf['id']}/jobs?limit=2", headers=auth).get_json()
    assert page["total"] == 3 and len(page["data"]) == 2 and page["nextCursor"]
    manual = client.get(f"/api/v1/jobs?workflowId={wf['id']}&trigger=manual", headers=auth).get_json()
    automatic = client.get(f"/api/v1/jobs?workflowId={wf['id']}&trigger=AUTOMATIC", headers=auth).get_json()
    assert manual["total"] == 3 and automatic["total"] == 0


def test_unknown_workflow_is_404(client, auth):
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/run"),
        ("post", "/pause"),
        ("post", "/execute-async"),
        ("get", "/jobs"),
    ]:
        reply = getattr(client, method)(f"/api/v1/workflows/nope{path}", json={}, headers=auth)
        assert reply.status_code == 404, (method, path)
        assert reply.get_json() == {"error": "Workflow not found", "code": "NOT_FOUND"}
