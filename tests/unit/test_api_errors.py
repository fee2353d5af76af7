"""Every API error path answers the contract's JSON: {error, code, details?}, the right status and headers."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from redis import exceptions as redis_exc

from app.api import create_app
from app.models import User
from app.redis_server import free_port
from app.store.jobs import Retention
from app.store.scripts import Scripts
from app.store.workers import Outcome, WorkerStore
from tests.conftest import ADMIN_PASSWORD, login, make_settings

CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "UNAVAILABLE",
}


def expect_error(reply, status: int, details: bool | None = None) -> dict:
    """Assert the contract's error shape; return the body."""
    assert reply.status_code == status, reply.get_data(as_text=True)
    assert reply.mimetype == "application/json"
    body = reply.get_json()
    assert body["code"] == CODES[status]
    assert isinstance(body["error"], str) and body["error"]
    assert set(body) <= {"error", "code", "details"}
    if details is True:
        assert isinstance(body["details"], dict) and body["details"]
    if details is False:
        assert "details" not in body
    assert "Traceback" not in reply.get_data(as_text=True)
    return body


def submit(client, auth, **body):
    return client.post("/api/v1/jobs", json={"task": "demo.echo", **body}, headers=auth)


def running_job(client, auth, fake_redis, settings) -> tuple[str, WorkerStore, object]:
    """Submit a job and take it as a worker would; returns (id, worker store, claimed job)."""
    job_id = submit(client, auth, queue="errq").get_json()["id"]
    retention = Retention(3600, {"completed": 10, "failed": 10, "canceled": 10}, (0.0,))
    worker = WorkerStore(fake_redis, Scripts(fake_redis), "w1", ("errq",), retention, 30.0, 60)
    claimed = worker.claim("exec1", None, "take").job
    assert claimed is not None and claimed.id == job_id
    return job_id, worker, claimed


# --- routing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/jobs/x/y/z", "/api/v2/jobs"])
def test_unknown_route_is_404_json(client, path):
    expect_error(client.get(path), 404, details=False)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/jobs", {"GET", "POST"}),
        ("patch", "/api/v1/jobs/abc", {"GET", "DELETE"}),
        ("get", "/api/v1/jobs/abc/cancel", {"POST"}),
        ("get", "/api/v1/auth/login", {"POST"}),
        ("post", "/api/v1/jobs/stats", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, auth, method, path, allowed):
    reply = getattr(client, method)(path, headers=auth)
    expect_error(reply, 405)
    assert allowed <= {m.strip() for m in reply.headers["Allow"].split(",")}


# --- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ['{"task": ', "{'task': 'x'}", "nul", '{"a":1}}', b"\xff\xfe{}", b'{"task": "\xff"}']
)
def test_malformed_json_is_400(client, auth, raw):
    reply = client.post("/api/v1/jobs", data=raw, content_type="application/json", headers=auth)
    assert expect_error(reply, 400, details=True)["details"] == {"body": ["The body is not valid JSON."]}


@pytest.mark.parametrize("raw", ["[1, 2]", '"task"', "42", "null", "true"])
def test_non_object_json_is_400(client, auth, raw):
    reply = client.post("/api/v1/jobs", data=raw, content_type="application/json", headers=auth)
    assert expect_error(reply, 400, details=True)["details"] == {"body": ["Must be a JSON object."]}


@pytest.mark.parametrize("depth", [65, 200, 600, 900, 990, 1000, 5000, 100_000])
def test_deeply_nested_json_is_400(client, auth, depth):
    nested = "[" * depth + "]" * depth
    for body in (nested, '{"task":"demo.echo","params":{"a":' + nested + "}}"):
        for headers in (auth, {**auth, "Idempotency-Key": f"deep-{depth}"}):
            reply = client.post("/api/v1/jobs", data=body, content_type="application/json", headers=headers)
            expect_error(reply, 400, details=True)
    reply = client.post("/api/v1/auth/login", data=nested, content_type="application/json")
    expect_error(reply, 400)


def test_nesting_within_the_limit_is_fine(client, auth):
    params = {"a": json.loads("[" * 60 + "]" * 60)}
    reply = submit(client, auth, params=params, title="deep but fine")
    assert reply.status_code == 201
    assert client.get(reply.headers["Location"], headers=auth).get_json()["params"] == params


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_wrong_content_type_is_415(client, auth, ctype):
    reply = client.post("/api/v1/jobs", data='{"task": "demo.noop"}', content_type=ctype, headers=auth)
    expect_error(reply, 415, details=False)


def test_body_over_the_limit_is_413(fake_redis):
    app = create_app(make_settings(max_body_bytes=2048), fake_redis)
    client = app.test_client()
    auth = login(client)
    big = {"task": "demo.echo", "params": {"blob": "x" * 4000}}
    expect_error(client.post("/api/v1/jobs", json=big, headers=auth), 413, details=False)
    huge = json.dumps({"login": "admin", "password": "x" * 5000})
    reply = client.post("/api/v1/auth/login", data=huge, content_type="application/json")
    expect_error(reply, 413)
    assert client.post("/api/v1/jobs", json={"task": "demo.echo", "params": {"s": "x" * 1500}}, headers=auth)


# --- auth -----------------------------------------------------------------------------------------


def _foreign_token(app, secret: str, age_s: int = 0) -> str:
    """A login token for the bootstrap admin, signed with `secret`, issued `age_s` seconds ago."""
    from datetime import UTC, datetime, timedelta

    from app.services.wiring import build_auth_service

    services = app.extensions["jobline"]
    auth = build_auth_service(services.settings.with_changes(secret_key=secret), services.redis)
    auth.clock = lambda: datetime.now(UTC) - timedelta(seconds=age_s)
    return auth.issue(auth.users.get("admin")).token


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "Basic YWRtaW46cHc=",
        "Token abc",
    ],
)
def test_missing_or_bad_token_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    for method, path in [("get", "/api/v1/jobs"), ("post", "/api/v1/jobs"), ("get", "/api/v1/jobs/abc")]:
        expect_error(getattr(client, method)(path, headers=headers), 401, details=False)


def test_token_of_another_secret_or_expired_is_401(app, client, settings):
    other = _foreign_token(app, "another-secret")
    expired = _foreign_token(app, settings.secret_key, age_s=settings.token_ttl_s + 10)
    fresh = _foreign_token(app, settings.secret_key)
    for token in (other, expired, fresh[:-2]):
        expect_error(client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}), 401)
    assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"login": "admin", "password": "wrong"},
        {"login": "root", "password": ADMIN_PASSWORD},
        {"login": "Admin", "password": ADMIN_PASSWORD},
    ],
)
def test_wrong_credentials_are_401(client, body):
    expect_error(client.post("/api/v1/auth/login", json=body), 401)


def test_login_body_is_validated(client):
    expect_error(client.post("/api/v1/auth/login", json={"login": "admin"}), 400, details=True)
    expect_error(client.post("/api/v1/auth/login", json={"login": "a", "password": "b", "x": 1}), 400)


def test_viewer_may_read_but_not_submit_403(app, client):
    auth = app.extensions["jobline"].auth
    token = auth.issue(auth.users.create("watcher", "watcher-password", "viewer")).token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    expect_error(client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=headers), 403)


def test_operator_may_not_delete_403(app, client, auth):
    job_id = submit(client, auth).get_json()["id"]
    auth = app.extensions["jobline"].auth
    token = auth.issue(auth.users.create("op", "operator-password", "operator")).token
    expect_error(client.delete(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}), 403)


# --- submit validation ----------------------------------------------------------------------------


def test_unknown_task_is_400(client, auth):
    body = expect_error(submit(client, auth, task="os.system"), 400, details=True)
    assert body["details"] == {"task": ["Unknown task 'os.system'."]}


def test_bad_params_are_400(client, auth):
    reply = client.post(
        "/api/v1/jobs", json={"task": "demo.sleep", "params": {"seconds": "x", "n": 1}}, headers=auth
    )
    body = expect_error(reply, 400, details=True)
    assert body["details"] == {
        "params": {"n": ["Unknown parameter for task 'demo.sleep'."], "seconds": ["Must be of type float."]}
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": 6}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"maxRetries": 26}, "maxRetries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 3601}, "timeout"),
        ({"queue": "bad queue"}, "queue"),
        ({"scheduledAt": "soon"}, "scheduledAt"),
        ({"scheduledAt": "2001-01-01T00:00:00Z"}, "scheduledAt"),
        ({"scheduledAt": "2999-01-01T00:00:00Z"}, "scheduledAt"),
        ({"colour": "red"}, "colour"),
        ({"params": [1]}, "params"),
    ],
)
def test_submit_validation_names_the_field(client, auth, body, field):
    assert field in expect_error(submit(client, auth, **body), 400, details=True)["details"]


def test_missing_task_and_empty_body(client, auth):
    assert "task" in expect_error(client.post("/api/v1/jobs", headers=auth), 400, details=True)["details"]
    reply = client.post("/api/v1/jobs", json={}, headers=auth)
    assert "task" in expect_error(reply, 400, details=True)["details"]


def test_idempotency_conflict_is_409(client, auth):
    headers = {**auth, "Idempotency-Key": "key-1"}
    first = client.post("/api/v1/jobs", json={"task": "demo.echo", "params": {"a": 1}}, headers=headers)
    again = client.post("/api/v1/jobs", json={"task": "demo.echo", "params": {"a": 1}}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    other = client.post("/api/v1/jobs", json={"task": "demo.echo", "params": {"a": 2}}, headers=headers)
    expect_error(other, 409, details=True)


# --- list queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"trigger": "cron"}, "trigger"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"page": "-1"}, "page"),
        ({"page": "1", "cursor": "abc"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'[1,"nan","x"]').decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'[true,"1","x"]').decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'[9,"1","x"]').decode()}, "cursor"),
        ({"orderBy": "x"}, "orderBy"),
    ],
)
def test_bad_list_query_is_400(client, auth, query, field):
    submit(client, auth)
    reply = client.get("/api/v1/jobs", query_string=query, headers=auth)
    assert field in expect_error(reply, 400, details=True)["details"]


def test_repeated_query_parameter_is_400(client, auth):
    reply = client.get("/api/v1/jobs?status=failed&status=pending", headers=auth)
    assert "status" in expect_error(reply, 400, details=True)["details"]


# --- job control ----------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "no-such-job", "bad:id", "x" * 65])
def test_unknown_job_is_404(client, auth, job_id):
    expect_error(client.get(f"/api/v1/jobs/{job_id}", headers=auth), 404)
    for action in ("cancel", "abort", "retry", "restart"):
        expect_error(client.post(f"/api/v1/jobs/{job_id}/{action}", headers=auth), 404)
    expect_error(client.delete(f"/api/v1/jobs/{job_id}", headers=auth), 404)


def test_cancel_of_a_completed_job_is_409(client, auth, fake_redis, settings):
    job_id, worker, claimed = running_job(client, auth, fake_redis, settings)
    worker.claim("exec2", Outcome(claimed, "ok", 0.1, result="1"), "none")
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "completed"
    for action in ("cancel", "abort"):
        body = expect_error(client.post(f"/api/v1/jobs/{job_id}/{action}", headers=auth), 409, details=True)
        assert body["error"] == "Cannot cancel a completed job"


def test_retry_of_a_running_job_is_409(client, auth, fake_redis, settings):
    job_id, _, _ = running_job(client, auth, fake_redis, settings)
    for action in ("retry", "restart"):
        body = expect_error(client.post(f"/api/v1/jobs/{job_id}/{action}", headers=auth), 409, details=True)
        assert body["error"] == "Cannot retry a running job"


def test_retry_of_a_pending_job_is_409(client, auth):
    job_id = submit(client, auth).get_json()["id"]
    expect_error(client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth), 409)


def test_delete_of_a_running_job_is_409_without_force(client, auth, fake_redis, settings):
    job_id, _, _ = running_job(client, auth, fake_redis, settings)
    expect_error(client.delete(f"/api/v1/jobs/{job_id}", headers=auth), 409, details=True)
    expect_error(client.delete(f"/api/v1/jobs/{job_id}?force=false", headers=auth), 409)
    expect_error(client.delete(f"/api/v1/jobs/{job_id}?force=maybe", headers=auth), 400, details=True)
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "running"
    assert client.delete(f"/api/v1/jobs/{job_id}?force=true", headers=auth).status_code == 204
    expect_error(client.get(f"/api/v1/jobs/{job_id}", headers=auth), 404)


# --- Redis unreachable ----------------------------------------------------------------------------


@pytest.fixture
def down_client():
    """An app built from real settings that point at a closed port (nothing listens there)."""
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_s=0.5)
    return create_app(settings).test_client()


def test_redis_unreachable_is_503_with_retry_after(down_client):
    # a well-signed token (issuing needs no Redis); checking it does, so every call is 503
    now = datetime.now(UTC)
    token = down_client.application.extensions["jobline"].auth.issue(User("admin", "admin", False, now, now))
    auth = {"Authorization": f"Bearer {token.token}"}
    calls = [
        ("get", "/api/v1/jobs", None),
        ("post", "/api/v1/jobs", {"task": "demo.noop"}),
        ("get", f"/api/v1/jobs/{uuid.uuid4()}", None),
        ("post", f"/api/v1/jobs/{uuid.uuid4()}/cancel", None),
        ("post", f"/api/v1/jobs/{uuid.uuid4()}/retry", None),
        ("delete", f"/api/v1/jobs/{uuid.uuid4()}", None),
        ("get", "/api/v1/jobs/stats", None),
    ]
    for method, path, body in calls:
        reply = getattr(down_client, method)(path, json=body, headers=auth)
        error = expect_error(reply, 503, details=None)  # every Redis 503 says why in details.health
        assert error["details"]["health"]["status"] == "unhealthy"
        assert int(reply.headers["Retry-After"]) > 0
        assert "127.0.0.1" not in reply.get_data(as_text=True)  # no Redis address in the body


def test_health_endpoints_while_redis_is_unreachable(down_client):
    assert down_client.get("/healthz").status_code == 200
    expect_error(down_client.get("/readyz"), 503)
    metrics = down_client.get("/metrics")
    assert metrics.status_code == 200 and "jobline_redis_up 0" in metrics.get_data(as_text=True)


@pytest.mark.parametrize("key", ["x" * 256, "has space", "tab\tkey", "ünïcode"])
def test_malformed_idempotency_keys_are_rejected(client, auth, key):
    headers = dict(auth)
    headers["Idempotency-Key"] = key.encode("utf-8").decode("latin-1")
    reply = client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=headers)
    assert reply.status_code == 400
    assert "Idempotency-Key" in reply.get_json()["details"]


@pytest.mark.parametrize(
    ("error", "status", "says"),
    [
        (redis_exc.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), 503, "full"),
        (redis_exc.ResponseError("MISCONF Redis is configured to save RDB snapshots"), 503, "save to disk"),
        (redis_exc.ReadOnlyError("You can't write against a read only replica."), 503, "read-only replica"),
        (redis_exc.BusyLoadingError("Redis is loading the dataset in memory"), 503, "loading"),
        (redis_exc.AuthenticationError("invalid username-password pair"), 503, "credentials"),
        (redis_exc.NoPermissionError("this user has no permissions to run the 'eval' command"), 503, "ACL"),
        (redis_exc.TimeoutError("Timeout reading from socket"), 503, "unreachable"),
        (
            redis_exc.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
            500,
            "",
        ),
    ],
)
def test_redis_refusals_are_503s_that_say_what_is_wrong_and_bugs_are_500s(
    app, client, auth, monkeypatch, error, status, says
):
    from app.api.context import services  # noqa: PLC0415

    with app.app_context():
        jobs = services().jobs

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(jobs, "list", refuse)
    reply = client.get("/api/v1/jobs", headers=auth)
    body = reply.get_json()
    assert reply.status_code == status, body
    if status == 503:
        assert body["code"] == "UNAVAILABLE" and says in body["error"] and reply.headers["Retry-After"]
        assert "127.0.0.1" not in json.dumps(body) and "password" not in json.dumps(body).lower()
    else:
        assert body == {"error": "Internal error", "code": "INTERNAL"}
