"""The real-time endpoints through the Flask test client on fakeredis: shapes, validation, permissions."""

from __future__ import annotations

import json
import threading
import time

import pytest

from app import keys
from app.api.permissions import REQUIRED_ROLE
from app.store.logs import LogStore, encode_line
from app.store.scripts import Scripts
from tests.conftest import make_settings

ENDPOINTS = ("realtime.poll_job", "realtime.stream_job", "realtime.stream_events", "realtime.job_logs")


@pytest.fixture
def settings():
    return make_settings(sse_heartbeat_s=0.1)


@pytest.fixture
def app(settings, fake_redis):
    from app.api import create_app

    app = create_app(settings, fake_redis)
    yield app
    app.extensions["jobline"].extra["realtime"].hub.stop()


@pytest.fixture
def viewer(app):
    auth = app.extensions["jobline"].auth
    token = auth.issue(auth.users.create("vera", "vera-password-1", "viewer")).token
    return {"Authorization": f"Bearer {token}"}


def submit(client, auth, **body):
    reply = client.post("/api/v1/jobs", json={"task": "demo.noop", **body}, headers=auth)
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def events_of(body: bytes) -> list[dict]:
    """The SSE events of a response body: each as {'id', 'event', 'data'} (comments dropped)."""
    out = []
    for block in body.decode().split("\n\n"):
        fields: dict = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event"):
                fields[name] = value
            elif name == "data":
                fields["data"] = json.loads(value)
        if "data" in fields:
            out.append(fields)
    return out


def test_the_real_time_endpoints_are_for_viewers():
    assert {e: REQUIRED_ROLE[e] for e in ENDPOINTS} == dict.fromkeys(ENDPOINTS, "viewer")


@pytest.mark.parametrize(
    "path", ["/api/v1/jobs/x/poll", "/api/v1/jobs/x/stream", "/api/v1/jobs/x/logs", "/api/v1/events"]
)
def test_no_token_is_401(client, path):
    reply = client.get(path)
    assert reply.status_code == 401 and reply.get_json()["code"] == "UNAUTHORIZED"


def test_poll_answers_at_once_with_the_job(client, auth, viewer):
    job = submit(client, auth)
    reply = client.get(f"/api/v1/jobs/{job['id']}/poll?timeout=30&currentStatus=running", headers=viewer)
    assert reply.status_code == 200
    assert reply.get_json()["id"] == job["id"] and reply.get_json()["status"] == "pending"


def test_poll_takes_snake_case_and_aliases_and_times_out_unchanged(client, auth):
    job = submit(client, auth)
    started = time.monotonic()
    reply = client.get(f"/api/v1/jobs/{job['id']}/poll?timeout=1&current_status=QUEUED", headers=auth)
    assert reply.status_code == 200 and reply.get_json()["status"] == "pending"
    assert time.monotonic() - started >= 1


def test_poll_wakes_when_the_job_changes(client, auth):
    job = submit(client, auth)
    threading.Timer(0.2, lambda: client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth)).start()
    reply = client.get(f"/api/v1/jobs/{job['id']}/poll?timeout=60&currentStatus=pending", headers=auth)
    assert reply.get_json()["status"] == "canceled"


@pytest.mark.parametrize(
    "query, field",
    [
        ("timeout=0", "timeout"),
        ("timeout=301", "timeout"),
        ("timeout=soon", "timeout"),
        ("currentStatus=sleeping", "currentStatus"),
        ("wait=1", "wait"),
    ],
)
def test_bad_poll_parameters_are_400(client, auth, query, field):
    job = submit(client, auth)
    reply = client.get(f"/api/v1/jobs/{job['id']}/poll?{query}", headers=auth)
    assert reply.status_code == 400
    assert field in reply.get_json()["details"]


def test_poll_and_stream_of_an_unknown_job_are_404(client, auth):
    for path in ("/api/v1/jobs/nope/poll?currentStatus=pending", "/api/v1/jobs/nope/stream"):
        assert client.get(path, headers=auth).status_code == 404
    assert client.get("/api/v1/jobs/nope/logs?follow=true", headers=auth).status_code == 404


def test_stream_sends_the_state_then_each_change_and_closes_at_the_end(client, auth, viewer):
    job = submit(client, auth)
    threading.Timer(0.3, lambda: client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth)).start()
    reply = client.get(f"/api/v1/jobs/{job['id']}/stream", headers=viewer)
    assert reply.status_code == 200
    assert reply.mimetype == "text/event-stream"
    assert reply.headers["Cache-Control"] == "no-cache"
    body = reply.get_data()
    assert body.startswith(b": connected\nretry: ")
    assert b": keepalive\n\n" in body  # idle 0.3 s with a 0.1 s heartbeat
    events = events_of(body)
    assert [e["data"]["status"] for e in events] == ["pending", "canceled"]
    assert set(events[0]["data"]) == {"id", "status", "progress", "currentStep", "timestamp"}
    assert events[0]["data"]["id"] == job["id"]
    assert events[0]["id"] < events[1]["id"] or len(events[0]["id"]) < len(events[1]["id"])


def test_stream_resumes_after_last_event_id_and_answers_204_once_it_saw_the_end(client, auth):
    job = submit(client, auth)
    client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth)
    first = events_of(client.get(f"/api/v1/jobs/{job['id']}/stream", headers=auth).get_data())
    assert [e["data"]["status"] for e in first] == ["canceled"]
    client.post(f"/api/v1/jobs/{job['id']}/retry", headers=auth)
    client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth)
    again = client.get(f"/api/v1/jobs/{job['id']}/stream", headers={**auth, "Last-Event-ID": first[-1]["id"]})
    assert [e["data"]["status"] for e in events_of(again.get_data())] == ["pending", "canceled"]
    last = events_of(again.get_data())[-1]["id"]
    done = client.get(f"/api/v1/jobs/{job['id']}/stream?lastEventId={last}", headers=auth)
    assert done.status_code == 204


def test_events_stream_every_change_of_a_queue_with_its_queue(client, auth, viewer):
    reply = client.get("/api/v1/events?queue=q2", headers=viewer, buffered=False)
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    chunks = iter(reply.response)
    assert next(chunks).startswith(b": connected")
    submit(client, auth, queue="q1")
    job = submit(client, auth, queue="q2")
    chunk = next(c for c in chunks if c.startswith(b"id: "))
    reply.close()
    (event,) = events_of(chunk)
    assert event["data"]["id"] == job["id"] and event["data"]["queue"] == "q2"
    assert set(event["data"]) == {"id", "queue", "status", "progress", "currentStep", "timestamp"}


def test_events_reject_a_bad_queue_name(client, auth):
    assert client.get("/api/v1/events?queue=no/pe", headers=auth).status_code == 400


def test_logs_are_lines_with_offsets_and_a_next_offset(app, client, auth, fake_redis):
    job = submit(client, auth)
    fake_redis.hset(keys.job(job["id"]), "jl_exec", "e1")
    store = LogStore(Scripts(fake_redis))
    from datetime import UTC, datetime

    now = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    store.append(job["id"], "e1", [encode_line(now, "INFO", f"line {i}") for i in range(5)], 1000)
    reply = client.get(f"/api/v1/jobs/{job['id']}/logs?offset=3", headers=auth).get_json()
    assert reply == {
        "lines": [
            {"offset": 3, "ts": "2026-05-01T12:00:00.250Z", "level": "INFO", "message": "line 3"},
            {"offset": 4, "ts": "2026-05-01T12:00:00.250Z", "level": "INFO", "message": "line 4"},
        ],
        "nextOffset": 5,
    }
    limited = client.get(f"/api/v1/jobs/{job['id']}/logs?limit=2", headers=auth).get_json()
    assert [line["offset"] for line in limited["lines"]] == [0, 1] and limited["nextOffset"] == 2
    client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth)
    followed = client.get(f"/api/v1/jobs/{job['id']}/logs?follow=true&offset=1", headers=auth)
    assert [(e["id"], e["data"]["message"]) for e in events_of(followed.get_data())] == [
        ("1", "line 1"),
        ("2", "line 2"),
        ("3", "line 3"),
        ("4", "line 4"),
    ]
    resumed = client.get(f"/api/v1/jobs/{job['id']}/logs?follow=true", headers={**auth, "Last-Event-ID": "4"})
    assert resumed.status_code == 204


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=10001", "follow=maybe"])
def test_bad_log_parameters_are_400(client, auth, query):
    job = submit(client, auth)
    assert client.get(f"/api/v1/jobs/{job['id']}/logs?{query}", headers=auth).status_code == 400


def test_logs_of_an_unknown_job_are_404(client, auth):
    assert client.get("/api/v1/jobs/nope/logs", headers=auth).status_code == 404
