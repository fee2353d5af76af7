"""RELIABILITY D9, output safety: secret-looking params never leave the API; hostile strings stay inert."""

from __future__ import annotations

import json

from app.api.context import services
from app.api.schemas.common import redact

SECRETS = {
    "user": "ann",
    "password": "hunter2",
    "db": {"apiKey": "k-123", "hosts": [{"name": "a", "auth_token": "t-1"}], "port": 5432},
    "Authorization": "Bearer x",
    "privateKey": "-----BEGIN",
    "session_cookie": "c",
    "clientSecret": "s",
    "token": None,
}
SHOWN = {
    "user": "ann",
    "password": "***",
    "db": {"apiKey": "***", "hosts": [{"name": "a", "auth_token": "***"}], "port": 5432},
    "Authorization": "***",
    "privateKey": "***",
    "session_cookie": "***",
    "clientSecret": "***",
    "token": None,
}


def test_redact_replaces_secret_looking_values_at_any_depth():
    assert redact(SECRETS) == SHOWN
    assert redact(["password", {"author": "kept", "passwd": 1}]) == [
        "password",
        {"author": "kept", "passwd": "***"},
    ]


def test_redact_reads_long_and_repeated_keys_alike():
    long_secret, long_plain = "x" * 70 + "_api_key", "y" * 80
    value = {long_secret: 1, long_plain: [[{"Token": 2}], 3], "n": None, "ok": (4,)}
    for _ in range(2):  # the second time from the cache of short keys
        assert redact(value) == {
            long_secret: "***",
            long_plain: [[{"Token": "***"}], 3],
            "n": None,
            "ok": (4,),
        }
    assert redact([]) == [] and redact({}) == {} and redact("password") == "password"


def test_job_answers_redact_params_everywhere_but_the_task_gets_them(client, auth):
    reply = client.post("/api/v1/jobs", json={"task": "demo.echo", "params": SECRETS}, headers=auth)
    assert reply.status_code == 201 and reply.get_json()["params"] == SHOWN
    job_id = reply.get_json()["id"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["params"] == SHOWN
    listed = client.get("/api/v1/jobs?limit=10", headers=auth).get_json()["data"]
    assert [j["params"] for j in listed] == [SHOWN]
    queue = client.get("/api/v1/queues/default", headers=auth).get_json()["jobs"]
    assert [j["params"] for j in queue] == [SHOWN]
    nick = client.get(f"/@jobs/{job_id}", headers=auth).get_json()
    assert nick["params"] == SHOWN
    archiver = client.get("/v1/jobs/queues/default?status=waiting", headers=auth).get_json()["jobs"]
    assert [j["data"] for j in archiver] == [SHOWN]
    body = json.dumps([reply.get_json(), listed, queue, nick, archiver])
    assert "hunter2" not in body and "k-123" not in body and "t-1" not in body
    with client.application.app_context():  # stored as given: the task gets the real values
        assert services().jobs.get(job_id).params == SECRETS


def test_workflow_answers_redact_saved_params(client, auth):
    reply = client.post(
        "/api/v1/workflows",
        json={"name": "nightly", "task": "demo.echo", "params": {"password": "p", "n": 1}},
        headers=auth,
    )
    assert reply.status_code == 201, reply.get_json()
    assert reply.get_json()["params"] == {"password": "***", "n": 1}
    listed = client.get("/api/v1/workflows", headers=auth).get_json()
    assert '"p"' not in json.dumps(listed)


def test_hostile_strings_come_back_as_inert_json(client, auth):
    hostile = "<script>alert(1)</script>\x1b[31mred\x1b[0m"
    reply = client.post(
        "/api/v1/jobs",
        json={"task": "demo.echo", "description": hostile, "params": {"x": hostile}},
        headers=auth,
    )
    assert reply.status_code == 201
    got = client.get(f"/api/v1/jobs/{reply.get_json()['id']}", headers=auth)
    assert got.mimetype == "application/json" and got.headers["X-Content-Type-Options"] == "nosniff"
    raw = got.get_data(as_text=True)
    assert "\x1b" not in raw and "\\u001b" in raw  # control characters escaped, never raw
    assert got.get_json()["description"] == hostile


def test_a_workflow_read_and_sent_back_whole_keeps_its_secrets(client, auth, app):
    created = client.post(
        "/api/v1/workflows",
        json={
            "name": "sync",
            "task": "demo.echo",
            "params": {"apiKey": "k-1", "db": {"password": "p-1"}, "n": 1},
        },
        headers=auth,
    ).get_json()
    read = client.get(f"/api/v1/workflows/{created['id']}", headers=auth).get_json()
    assert read["params"] == {"apiKey": "***", "db": {"password": "***"}, "n": 1}
    patched = client.patch(
        f"/api/v1/workflows/{created['id']}", json={"params": {**read["params"], "n": 2}}, headers=auth
    )
    assert patched.status_code == 200
    with app.app_context():
        saved = services().extra["workflows"].get(created["id"]).spec.params
    assert saved == {"apiKey": "k-1", "db": {"password": "p-1"}, "n": 2}  # "***" did not overwrite them
    changed = client.patch(
        f"/api/v1/workflows/{created['id']}", json={"params": {"apiKey": "k-2", "n": 3}}, headers=auth
    )
    assert changed.status_code == 200
    with app.app_context():
        assert services().extra["workflows"].get(created["id"]).spec.params == {"apiKey": "k-2", "n": 3}
    run = client.post(
        f"/api/v1/workflows/{created['id']}/run", json={"params": {"apiKey": "***", "n": 4}}, headers=auth
    )
    assert run.status_code == 201
    with app.app_context():
        assert services().jobs.get(run.get_json()["id"]).params == {"apiKey": "k-2", "n": 4}
