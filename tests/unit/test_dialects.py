"""Seed dialect adapters over the Flask test client (fakeredis): state words and field mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import login, make_settings

LATER = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


@pytest.fixture
def anon_app(fake_redis):
    from app.api import create_app

    return create_app(make_settings(anonymous_role="viewer"), fake_redis)


def submit(client, auth, **body):
    reply = client.post("/api/v1/jobs", json={"task": "demo.echo"} | body, headers=auth)
    assert reply.status_code == 201
    return reply.get_json()


def test_open_archiver_counts_a_paused_queues_waiting_jobs_as_paused(client, auth):
    submit(client, auth, queue="ingestion")
    submit(client, auth, queue="ingestion", scheduledAt=LATER)
    assert client.post("/api/v1/queues/ingestion/pause", headers=auth).status_code == 200
    body = client.get("/v1/jobs/queues/ingestion?status=paused", headers=auth).get_json()
    assert body["counts"] == {
        "active": 0,
        "completed": 0,
        "failed": 0,
        "delayed": 1,
        "waiting": 0,
        "paused": 1,
    }
    assert [j["state"] for j in body["jobs"]] == ["paused"]
    assert client.get("/v1/jobs/queues/ingestion?status=waiting", headers=auth).get_json()["jobs"] == []
    delayed = client.get("/v1/jobs/queues/ingestion?status=delayed", headers=auth).get_json()["jobs"]
    assert [j["state"] for j in delayed] == ["delayed"]


def test_open_archiver_copies_the_ingestion_source_out_of_data_as_its_example_shows(client, auth):
    source = "clx1y2z3a0000b4d2e5f6g7h8"
    submit(client, auth, queue="ingestion", params={"ingestionSourceId": source})
    submit(client, auth, queue="ingestion", params={"other": 1})
    jobs = client.get("/v1/jobs/queues/ingestion?status=waiting", headers=auth).get_json()["jobs"]
    with_source = [j for j in jobs if "ingestionSourceId" in j]
    assert len(jobs) == 2 and len(with_source) == 1
    assert with_source[0]["ingestionSourceId"] == source == with_source[0]["data"]["ingestionSourceId"]


def test_open_archiver_rejects_unknown_states_and_non_admins(app, client, auth):
    assert client.get("/v1/jobs/queues/default?status=stuck", headers=auth).status_code == 400
    auth_service = app.extensions["jobline"].auth
    viewer = auth_service.issue(auth_service.users.create("oa-viewer", "viewer-password-1", "viewer"))
    assert (
        client.get("/v1/jobs/queues", headers={"Authorization": f"Bearer {viewer.token}"}).status_code == 403
    )


@pytest.mark.parametrize(("action", "word"), [(None, "created"), ("cancel", "aborted")])
def test_nick_status_words(client, auth, action, word):
    job = submit(client, auth, title="Reindex Events")
    if action:
        client.post(f"/api/v1/jobs/{job['id']}/{action}", headers=auth)
    body = client.get(f"/@jobs/{job['id']}", headers=auth).get_json()
    assert body["status"] == word and body["result"] == {} and body["title"] == "Reindex Events"


def test_nick_scheduled_job_is_created(client, auth):
    job = submit(client, auth, scheduledAt=LATER)
    assert client.get(f"/@jobs/{job['id']}", headers=auth).get_json()["status"] == "created"


def test_compileo_without_a_token_uses_the_anonymous_role(anon_app):
    client = anon_app.test_client()
    auth = login(client)
    job = submit(client, auth)
    status = client.get(f"/api/v1/jobs/status/{job['id']}").get_json()
    assert status["status"] == "pending" and status["progress"] == 0.0 and status["current_step"] == ""
    assert client.post(f"/api/v1/jobs/cancel/{job['id']}").status_code == 403  # viewer may not cancel


def test_compileo_cancelled_word_and_poll_current_status(client, auth):
    job = submit(client, auth)
    client.post(f"/api/v1/jobs/cancel/{job['id']}", headers=auth)
    status = client.get(f"/api/v1/jobs/status/{job['id']}", headers=auth).get_json()
    assert status["status"] == "cancelled"
    polled = client.get(
        f"/api/v1/jobs/status/{job['id']}/poll?timeout=1&current_status=running", headers=auth
    )
    assert polled.status_code == 200 and polled.get_json()["status"] == "cancelled"
