"""Contract tests: every example request of the five seed documents, replayed against a running system.

Each test names the seed and example it replays and checks the documented response shape: fields,
types and status codes (values differ: ids, times).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

ISO = str  # the seeds' times are ISO 8601 strings


def assert_shape(body: dict[str, Any], shape: dict[str, Any]) -> None:
    """Every documented field is there with the documented type (None allowed where the seed shows null)."""
    for key, kind in shape.items():
        assert key in body, f"missing {key!r} in {body}"
        if kind is None:
            continue
        value = body[key]
        if isinstance(kind, tuple):
            assert value is None or isinstance(value, kind[0]), (key, value)
        else:
            assert isinstance(value, kind), (key, value)


def workflow(stack: Stack, **body: Any) -> dict[str, Any]:
    payload = {"name": "Data Sync", "task": "demo.echo", "params": {}} | body
    reply = stack.session().post(f"{stack.url}/api/v1/workflows", json=payload, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()


# --- workflow engine (workflow-engine-jobs-api.txt) ----------------------------------------------------

WE_LIST_ITEM = {
    "id": str,
    "workflowId": (str,),
    "workflowName": (str,),
    "status": str,
    "priority": int,
    "retryCount": int,
    "maxRetries": int,
    "createdAt": ISO,
}


def test_workflow_engine_execute_async_then_poll_then_execution(stack):
    wf = workflow(stack)
    # curl -X POST .../api/v1/workflows/wf-123/execute-async -d '{"inputData": [{"json": {"key": "value"}}]}'
    reply = stack.session().post(
        f"{stack.url}/api/v1/workflows/{wf['id']}/execute-async",
        json={"inputData": [{"json": {"key": "value"}}]},
        timeout=10,
    )
    assert reply.status_code == 202
    assert reply.json() == {"jobId": reply.json()["jobId"], "status": "pending"}
    job_id = reply.json()["jobId"]
    # curl .../api/v1/jobs/job-123456  (the pending example's shape, with inputData; it may have started)
    fresh = stack.session().get(f"{stack.url}/api/v1/jobs/{job_id}", timeout=10).json()
    assert_shape(fresh, WE_LIST_ITEM | {"inputData": list})
    assert fresh["inputData"] == [{"json": {"key": "value"}}]
    done = stack.wait_status(job_id, "completed")
    assert_shape(
        done,
        WE_LIST_ITEM
        | {"startedAt": ISO, "completedAt": ISO, "duration": int, "result": None, "workerId": str},
    )
    # curl .../api/v1/executions/exec-from-job
    execution = stack.session().get(f"{stack.url}/api/v1/executions/{job_id}", timeout=10)
    assert execution.status_code == 200 and execution.json()["id"] == job_id


def test_workflow_engine_execute_async_with_priority(stack):
    wf = workflow(stack, name="Report Generator")
    reply = stack.session().post(
        f"{stack.url}/api/v1/workflows/{wf['id']}/execute-async",
        json={"inputData": [{"json": {}}], "priority": 5},
        timeout=10,
    )
    assert reply.status_code == 202
    assert stack.job(reply.json()["jobId"])["priority"] == 5


def test_workflow_engine_list_jobs_by_status(stack):
    wf = workflow(stack, task="demo.sleep", params={"seconds": 3})
    for _ in range(3):
        stack.session().post(f"{stack.url}/api/v1/workflows/{wf['id']}/execute-async", json={}, timeout=10)
    # curl ".../api/v1/jobs?status=pending&limit=50"
    body = stack.session().get(f"{stack.url}/api/v1/jobs?status=pending&limit=50", timeout=10).json()
    assert_shape(body, {"data": list, "total": int, "pendingCount": int, "runningCount": int})
    for item in body["data"]:
        assert_shape(item, WE_LIST_ITEM)
        assert item["status"] == "pending"
    running = stack.session().get(f"{stack.url}/api/v1/jobs?status=running&limit=50", timeout=10).json()
    for item in running["data"]:
        assert_shape(item, WE_LIST_ITEM | {"startedAt": ISO})


def test_workflow_engine_failed_job_shape(stack):
    job = stack.submit("demo.fail", params={"message": "Database connection timeout"}, maxRetries=0)
    failed = stack.wait_status(job["id"], "failed")
    assert_shape(failed, WE_LIST_ITEM | {"startedAt": ISO, "completedAt": ISO, "error": str})
    assert failed["retryCount"] == failed["maxRetries"]


def test_workflow_engine_stats(stack):
    # curl .../api/v1/jobs/stats
    body = stack.session().get(f"{stack.url}/api/v1/jobs/stats", timeout=10).json()
    assert_shape(
        body,
        {
            "pending": int,
            "running": int,
            "completed": int,
            "failed": int,
            "workers": int,
            "queueType": str,
            "avgProcessingTime": int,
            "throughput": dict,
        },
    )
    assert_shape(body["throughput"], {"lastMinute": int, "lastHour": int, "lastDay": int})
    assert body["queueType"] == "redis" and body["workers"] >= 2


def test_workflow_engine_not_found(stack):
    reply = stack.session().get(f"{stack.url}/api/v1/jobs/job-123456", timeout=10)
    assert reply.status_code == 404
    assert reply.json() == {"error": "Job not found", "code": "NOT_FOUND"}


# --- interval lifecycle (interval-job-lifecycle.txt) -----------------------------------------------------


def test_interval_lifecycle_statuses_triggers_and_base64_cursor(stack):
    wf = workflow(stack, name="interval", task="demo.noop", interval=1)
    stack.session().post(f"{stack.url}/api/v1/workflows/{wf['id']}/run", json={}, timeout=10)
    time.sleep(3.2)
    stack.session().delete(f"{stack.url}/api/v1/workflows/{wf['id']}", timeout=10)
    base = f"{stack.url}/api/v1/jobs?workflowId={wf['id']}"
    for word in ("PENDING", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELED"):
        reply = stack.session().get(f"{base}&status={word}", timeout=10)
        assert reply.status_code == 200, (word, reply.text)
    automatic = stack.session().get(f"{base}&trigger=AUTOMATIC&limit=1", timeout=10).json()
    manual = stack.session().get(f"{base}&trigger=MANUAL", timeout=10).json()
    assert automatic["total"] >= 2 and manual["total"] == 1
    assert all(j["trigger"] == "AUTOMATIC" for j in automatic["data"])
    cursor = automatic["nextCursor"]
    base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))  # a base64 string
    seen = [automatic["data"][0]["id"]]
    while cursor:
        page = stack.session().get(f"{base}&trigger=AUTOMATIC&limit=1&cursor={cursor}", timeout=10).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["nextCursor"]
    assert len(seen) == len(set(seen)) == automatic["total"]


# --- Open Archiver (open-archiver-jobs-api.txt) ----------------------------------------------------------

OA_COUNTS = {"active": int, "completed": int, "failed": int, "delayed": int, "waiting": int, "paused": int}
OA_JOB = {
    "id": str,
    "name": str,
    "data": dict,
    "state": str,
    "failedReason": (str,),
    "timestamp": int,
    "processedOn": (int,),
    "finishedOn": (int,),
    "attemptsMade": int,
    "stacktrace": list,
    "returnValue": None,
    "error": (str,),
}


def test_open_archiver_queues_and_failed_jobs(stack):
    job = stack.submit(
        "demo.fail", queue="ingestion", params={"message": "Error: Connection timed out"}, maxRetries=0
    )
    stack.wait_status(job["id"], "failed")
    # GET /v1/jobs/queues
    queues = stack.session().get(f"{stack.url}/v1/jobs/queues", timeout=10)
    assert queues.status_code == 200
    entry = next(q for q in queues.json()["queues"] if q["name"] == "ingestion")
    assert set(entry) == {"name", "counts"}
    assert_shape(entry["counts"], OA_COUNTS)
    # GET /v1/jobs/queues/:queueName  (status defaults to failed, page to 1, limit to 10)
    detail = stack.session().get(f"{stack.url}/v1/jobs/queues/ingestion", timeout=10)
    assert detail.status_code == 200
    body = detail.json()
    assert_shape(body, {"name": str, "counts": dict, "jobs": list, "pagination": dict})
    assert body["pagination"] == {
        "currentPage": 1,
        "totalPages": 1,
        "totalJobs": body["counts"]["failed"],
        "limit": 10,
    }
    failed = next(j for j in body["jobs"] if j["id"] == job["id"])
    assert_shape(failed, OA_JOB)
    assert failed["state"] == "failed" and failed["error"] == failed["failedReason"]
    assert "Connection timed out" in failed["failedReason"] and failed["attemptsMade"] == 1


@pytest.mark.parametrize("path", ["/v1/jobs/queues", "/v1/jobs/queues/ingestion"])
def test_open_archiver_errors(stack, path):
    assert stack.anonymous().get(f"{stack.url}{path}", timeout=10).status_code == 401
    assert stack.session("operator").get(f"{stack.url}{path}", timeout=10).status_code == 403
    missing = stack.session().get(f"{stack.url}/v1/jobs/queues/no-such-queue", timeout=10)
    assert missing.status_code == 404


# --- Nick (nick-jobs-api.txt) ----------------------------------------------------------------------------

NICK_JOB = {
    "uuid": str,
    "title": str,
    "description": str,
    "params": dict,
    "actor": str,
    "created": ISO,
    "started": (str,),
    "finished": (str,),
    "status": str,
    "result": dict,
}


def nick_session(stack: Stack) -> Any:
    import requests

    session = requests.Session()
    # cli.login({data: {login: 'admin', password: ...}})
    reply = session.post(
        f"{stack.url}/@login", json={"login": "admin", "password": "test-admin-password"}, timeout=10
    )
    assert reply.status_code == 200 and isinstance(reply.json()["token"], str)
    session.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    session.headers["Accept"] = "application/json"
    return session


def test_nick_list_get_retry_abort_delete(stack):
    nick = nick_session(stack)
    job = stack.submit(
        "demo.sleep",
        params={"seconds": 30},
        title="Reindex Events",
        description="Reindex all events",
        queue="nick",
    )
    # GET /@jobs
    listing = nick.get(f"{stack.url}/@jobs", timeout=10)
    assert listing.status_code == 200 and isinstance(listing.json(), list)
    mine = next(j for j in listing.json() if j["uuid"] == job["id"])
    assert_shape(mine, NICK_JOB)
    # GET /@jobs/{id}
    one = nick.get(f"{stack.url}/@jobs/{job['id']}", timeout=10).json()
    assert_shape(one, NICK_JOB | {"@id": str})
    assert one["@id"].endswith(f"/@jobs/{job['id']}") and one["title"] == "Reindex Events"
    assert one["status"] in ("created", "running")
    # POST /@jobs/{id}/abort -> 204
    abort = nick.post(f"{stack.url}/@jobs/{job['id']}/abort", timeout=10)
    assert abort.status_code == 204 and abort.content == b""
    assert nick.get(f"{stack.url}/@jobs/{job['id']}", timeout=10).json()["status"] == "aborted"
    # POST /@jobs/{id}/retry -> 204
    assert nick.post(f"{stack.url}/@jobs/{job['id']}/retry", timeout=10).status_code == 204
    assert nick.get(f"{stack.url}/@jobs/{job['id']}", timeout=10).json()["status"] in ("created", "running")
    nick.post(f"{stack.url}/@jobs/{job['id']}/abort", timeout=10)
    # DELETE /@jobs/{id} -> 204
    assert nick.delete(f"{stack.url}/@jobs/{job['id']}", timeout=10).status_code == 204
    assert nick.get(f"{stack.url}/@jobs/{job['id']}", timeout=10).status_code == 404


def test_nick_completed_job(stack):
    nick = nick_session(stack)
    job = stack.submit("demo.echo", params={"scheduled_job": "reindex-events", "action": "reindex"})
    stack.wait_status(job["id"], "completed")
    body = nick.get(f"{stack.url}/@jobs/{job['id']}", timeout=10).json()
    assert body["status"] == "completed" and body["finished"] and body["started"]
    assert body["result"] == {"scheduled_job": "reindex-events", "action": "reindex"}


# --- Compileo (compileo-jobs-api.txt), the requests without realtime ---------------------------------------

COMPILEO_STATUS = {
    "job_id": str,
    "status": str,
    "progress": float,
    "current_step": str,
    "result": None,
    "error": None,
    "created_at": ISO,
    "started_at": (str,),
    "completed_at": (str,),
    "updated_at": ISO,
}


def test_compileo_status_cancel_restart_and_stats(stack):
    session = stack.session()
    job = stack.submit("demo.progress", params={"steps": 20, "delay": 0.5})
    stack.wait_status(job["id"], "running")
    # curl ".../api/v1/jobs/status/<id>"
    status = session.get(f"{stack.url}/api/v1/jobs/status/{job['id']}", timeout=10)
    assert status.status_code == 200
    assert_shape(status.json(), COMPILEO_STATUS)
    # curl -X POST ".../api/v1/jobs/cancel/<id>"
    cancel = session.post(f"{stack.url}/api/v1/jobs/cancel/{job['id']}", timeout=10)
    assert cancel.status_code == 200
    assert cancel.json() == {"message": f"Job {job['id']} cancelled successfully"}
    assert (
        session.get(f"{stack.url}/api/v1/jobs/status/{job['id']}", timeout=10).json()["status"] == "cancelled"
    )
    # curl -X POST ".../api/v1/jobs/restart/<id>"
    restart = session.post(f"{stack.url}/api/v1/jobs/restart/{job['id']}", timeout=10)
    assert restart.status_code == 200
    assert restart.json() == {"message": f"Job {job['id']} restarted successfully"}
    session.post(f"{stack.url}/api/v1/jobs/cancel/{job['id']}", timeout=10)
    # curl ".../api/v1/jobs/queue/stats"
    stats = session.get(f"{stack.url}/api/v1/jobs/queue/stats", timeout=10).json()
    assert_shape(
        stats,
        {
            "pending_jobs": int,
            "running_jobs": int,
            "scheduled_jobs": int,
            "completed_jobs": int,
            "failed_jobs": int,
            "cancelled_jobs": int,
            "retrying_jobs": int,
            "total_jobs": int,
            "queue_type": str,
            "cache_size": int,
            "cpu_usage_percent": float,
            "memory_usage_mb": float,
            "active_workers": int,
            "queue_health": dict,
        },
    )
    assert_shape(
        stats["queue_health"], {"status": str, "resource_utilization": str, "limit_enforcement": str}
    )
    assert stats["memory_usage_mb"] > 0 and stats["active_workers"] >= 2
    assert json.dumps(stats)  # plain JSON
