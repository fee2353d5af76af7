"""Queues API on fakeredis: listing, one queue's page, pause/resume, purge, retry-failed, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.api import create_app
from tests.unit.queues.conftest import keys_mentioning, submit, token_for

STATUSES = ("pending", "running", "scheduled", "completed", "failed", "canceled")


def queue_of(client, auth, name):
    reply = client.get("/api/v1/queues", headers=auth)
    assert reply.status_code == 200
    return {q["name"]: q for q in reply.get_json()["queues"]}.get(name)


def mixed(client, auth, driver, queue="mix"):
    """2 completed, 2 failed, 1 canceled, 1 running, 3 pending, 1 scheduled, in `queue`."""
    ids = [submit(client, auth, queue, maxRetries=0) for _ in range(8)]
    worker = driver(queue)
    worker.run("ok", 2)
    worker.run("error", 2)
    worker.start()
    client.post(f"/api/v1/jobs/{ids[5]}/cancel", headers=auth)
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    submit(client, auth, queue, scheduledAt=later)
    submit(client, auth, queue, priority=3)
    return ids


def test_configured_queues_are_listed_before_any_job(client, auth):
    q = queue_of(client, auth, "default")
    assert q == {
        "name": "default",
        "paused": False,
        "workers": 0,
        "counts": dict.fromkeys(STATUSES, 0),
        "retrying": 0,
    }


def test_counts_equal_listing_totals_in_every_status(client, auth, driver):
    mixed(client, auth, driver)
    counts = queue_of(client, auth, "mix")["counts"]
    assert counts == {
        "pending": 3,
        "running": 1,
        "scheduled": 1,
        "completed": 2,
        "failed": 2,
        "canceled": 1,
    }
    stats = client.get("/api/v1/jobs/stats", headers=auth).get_json()
    for status, n in counts.items():
        one = client.get(f"/api/v1/queues/mix?status={status}&limit=100", headers=auth).get_json()
        assert one["pagination"]["totalJobs"] == n == len(one["jobs"])
        assert {j["status"] for j in one["jobs"]} <= {status}
        listed = client.get(f"/api/v1/jobs?status={status}&limit=1000", headers=auth).get_json()
        assert listed["total"] == stats[status] == n
    assert stats["total"] == sum(counts.values())


def test_queue_page_paginates_and_404s_unknown_queues(client, auth):
    for _ in range(25):
        submit(client, auth, "pages")
    first = client.get("/api/v1/queues/pages?status=pending&page=1", headers=auth).get_json()
    assert len(first["jobs"]) == 10
    assert first["pagination"] == {"currentPage": 1, "totalPages": 3, "totalJobs": 25, "limit": 10}
    last = client.get("/api/v1/queues/pages?status=waiting&page=3&limit=10", headers=auth).get_json()
    assert len(last["jobs"]) == 5
    assert not {j["id"] for j in first["jobs"]} & {j["id"] for j in last["jobs"]}
    assert first["name"] == "pages" and first["paused"] is False
    assert client.get("/api/v1/queues/nope", headers=auth).status_code == 404
    assert client.get("/api/v1/queues/pages?status=bogus", headers=auth).status_code == 400
    assert client.get("/api/v1/queues/pages?limit=0", headers=auth).status_code == 400


def test_queue_page_walks_by_cursor(client, auth):
    ids = {submit(client, auth, "walk") for _ in range(7)}
    seen, cursor = [], None
    while True:
        url = "/api/v1/queues/walk?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=auth).get_json()
        seen += [j["id"] for j in body["jobs"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)


def test_paused_queue_accepts_submits_and_gives_no_job_until_resumed(app, client, auth, driver, fake_redis):
    submit(client, auth, "hold")
    reply = client.post("/api/v1/queues/hold/pause", headers=auth)
    assert reply.status_code == 200 and reply.get_json()["paused"] is True
    job_id = submit(client, auth, "hold")
    worker = driver("hold")
    assert worker.start() is None
    again = create_app(app.extensions["jobline"].settings, fake_redis).test_client()
    assert queue_of(again, auth, "hold")["paused"] is True  # kept in Redis, not in the process
    assert client.post("/api/v1/queues/hold/resume", headers=auth).get_json()["paused"] is False
    assert len(worker.run("ok", 5)) == 2
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "completed"


def test_pausing_an_unknown_queue_is_404(client, auth):
    assert client.post("/api/v1/queues/ghost/pause", headers=auth).status_code == 404


@pytest.mark.parametrize("status", ["pending", "scheduled", "completed", "failed", "canceled"])
def test_purge_deletes_jobs_of_one_status_entirely(client, auth, driver, fake_redis, status):
    ids = mixed(client, auth, driver)
    before = queue_of(client, auth, "mix")["counts"]
    listed = client.get(f"/api/v1/queues/mix?status={status}&limit=100", headers=auth).get_json()
    victims = [j["id"] for j in listed["jobs"]]
    reply = client.delete(f"/api/v1/queues/mix/jobs?status={status}", headers=auth)
    assert reply.status_code == 200
    assert reply.get_json() == {"deleted": before[status]}
    after = queue_of(client, auth, "mix")["counts"]
    assert after == before | {status: 0}
    for job_id in victims:
        assert keys_mentioning(fake_redis, job_id) == []
        assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).status_code == 404
    assert len(ids) == 8


def test_purge_needs_a_status_and_refuses_running(client, auth):
    submit(client, auth, "p")
    assert client.delete("/api/v1/queues/p/jobs", headers=auth).status_code == 400
    reply = client.delete("/api/v1/queues/p/jobs?status=running", headers=auth)
    assert reply.status_code == 400 and "status" in reply.get_json()["details"]
    assert client.delete("/api/v1/queues/none/jobs?status=failed", headers=auth).status_code == 404


def test_purge_works_in_batches(app, client, auth):
    for _ in range(23):
        submit(client, auth, "big")
    store = app.extensions["jobline"].extra["queues"]
    assert store.bulk("purge", "big", "pending", batch=5) == 23
    assert queue_of(client, auth, "big")["counts"]["pending"] == 0


def test_retry_failed_sends_every_failed_job_back_with_history(client, auth, driver):
    ids = [submit(client, auth, "rf", maxRetries=0) for _ in range(3)]
    driver("rf").run("error", 3)
    reply = client.post("/api/v1/queues/rf/retry-failed", headers=auth)
    assert reply.get_json() == {"retried": 3}
    counts = queue_of(client, auth, "rf")["counts"]
    assert counts["failed"] == 0 and counts["pending"] == 3
    job = client.get(f"/api/v1/jobs/{ids[0]}", headers=auth).get_json()
    assert job["status"] == "pending" and job["error"] is None
    assert job["history"][-1]["error"] == "RuntimeError: boom"
    assert client.post("/api/v1/queues/rf/retry-failed", headers=auth).get_json() == {"retried": 0}


def test_roles(app, client, auth):
    submit(client, auth, "r")
    viewer, operator = token_for(app, "viewer"), token_for(app, "operator")
    assert client.get("/api/v1/queues", headers=viewer).status_code == 200
    assert client.get("/api/v1/queues/r", headers=viewer).status_code == 200
    assert client.get("/api/v1/workers", headers=viewer).status_code == 200
    assert client.post("/api/v1/queues/r/retry-failed", headers=viewer).status_code == 403
    assert client.post("/api/v1/queues/r/retry-failed", headers=operator).status_code == 200
    for call in (client.post, client.post):
        assert call("/api/v1/queues/r/pause", headers=operator).status_code == 403
    assert client.post("/api/v1/queues/r/resume", headers=operator).status_code == 403
    assert client.delete("/api/v1/queues/r/jobs?status=pending", headers=operator).status_code == 403
    assert client.get("/api/v1/queues").status_code == 401
