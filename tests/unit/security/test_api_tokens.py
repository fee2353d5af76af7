"""API tokens: shown once, stored as SHA-256, revocable at once, scoped to a role and to queues."""

from __future__ import annotations

import hashlib

from app import keys
from tests.unit.security.conftest import assert_error

TOKENS = "/api/v1/tokens"
ME = "/api/v1/auth/me"


def test_the_secret_is_shown_once_and_stored_hashed(kit):
    reply = kit.client.post(TOKENS, json={"name": "ci", "role": "operator"}, headers=kit.admin)
    assert reply.status_code == 201
    body = reply.get_json()
    secret = body.pop("token")
    assert secret.startswith("jlt_") and len(secret) >= 60
    assert {"id", "name", "role", "queues", "createdAt", "createdBy"} <= set(body)
    assert body["createdBy"] == "admin" and body["queues"] is None
    listed = kit.client.get(TOKENS, headers=kit.admin).get_data(as_text=True)
    one = kit.client.get(f"{TOKENS}/{body['id']}", headers=kit.admin).get_json()
    assert secret not in listed and "token" not in one and one["name"] == "ci"
    stored = kit.redis.hget(keys.token(body["id"]), "sha256").decode()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    dump = b"".join(kit.redis.dump(k) or b"" for k in kit.redis.keys("*"))
    assert secret.rsplit("_", 1)[1].encode() not in dump


def test_a_token_acts_with_its_role_and_name(kit):
    _, viewer = kit.token("dash", "viewer")
    _, operator = kit.token("ci", "operator")
    assert kit.client.get(ME, headers=operator).get_json() == {
        "name": "ci",
        "role": "operator",
        "kind": "token",
        "queues": None,
    }
    assert_error(
        kit.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=viewer), 403, "FORBIDDEN"
    )
    job = kit.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=operator).get_json()
    assert job["actor"] == "ci"
    mine = kit.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=kit.admin).get_json()
    assert mine["actor"] == "admin"


def test_revoking_a_token_refuses_it_at_once(kit):
    token_id, headers = kit.token("ci", "operator")
    assert kit.client.get(ME, headers=headers).status_code == 200
    assert kit.client.delete(f"{TOKENS}/{token_id}", headers=kit.admin).status_code == 204
    assert_error(kit.client.get(ME, headers=headers), 401, "UNAUTHORIZED")
    assert_error(kit.client.delete(f"{TOKENS}/{token_id}", headers=kit.admin), 404, "NOT_FOUND")
    assert kit.client.get(TOKENS, headers=kit.admin).get_json() == {"tokens": []}
    kit.token("ci", "viewer")  # the name is free again


def test_a_wrong_secret_for_a_real_token_id_is_refused(kit):
    token_id, headers = kit.token("ci", "operator")
    real = headers["Authorization"].split(" ", 1)[1]
    forged = f"jlt_{token_id}_" + ("A" if real[-1] != "A" else "B") * 43
    assert_error(kit.client.get(ME, headers={"Authorization": f"Bearer {forged}"}), 401, "UNAUTHORIZED")


def test_names_are_unique_and_validated(kit):
    kit.token("ci", "viewer")
    assert_error(
        kit.client.post(TOKENS, json={"name": "ci", "role": "viewer"}, headers=kit.admin), 409, "CONFLICT"
    )
    for body in (
        {"name": "bad name", "role": "viewer"},
        {"name": "x", "role": "god"},
        {"name": "x", "role": "viewer", "queues": []},
        {"name": "x", "role": "viewer", "queues": ["no/slash"]},
        {"name": "x", "role": "viewer", "expires": 5},
    ):
        assert_error(kit.client.post(TOKENS, json=body, headers=kit.admin), 400, "VALIDATION_ERROR")


def test_a_queue_scoped_token_may_not_be_admin(kit):
    reply = kit.client.post(TOKENS, json={"name": "t", "role": "admin", "queues": ["a"]}, headers=kit.admin)
    assert "queues" in assert_error(reply, 400, "VALIDATION_ERROR")["details"]


def test_tokens_cannot_manage_tokens_below_admin(kit):
    _, operator = kit.token("ci", "operator")
    assert_error(
        kit.client.post(TOKENS, json={"name": "x", "role": "admin"}, headers=operator), 403, "FORBIDDEN"
    )
    assert_error(kit.client.get(TOKENS, headers=operator), 403, "FORBIDDEN")


def test_a_queue_scoped_token_sees_other_queues_as_404(kit):
    _, scoped = kit.token("tenant-a", "operator", queues=["qa"])
    other = kit.client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "qb"}, headers=kit.admin)
    other_id = other.get_json()["id"]
    own = kit.client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "qa"}, headers=scoped)
    assert own.status_code == 201 and own.get_json()["actor"] == "tenant-a"
    own_id = own.get_json()["id"]
    assert kit.client.get(f"/api/v1/jobs/{own_id}", headers=scoped).status_code == 200
    for method, path in (
        ("get", f"/api/v1/jobs/{other_id}"),
        ("post", f"/api/v1/jobs/{other_id}/cancel"),
        ("post", f"/api/v1/jobs/{other_id}/retry"),
        ("get", "/api/v1/jobs?queue=qb"),
    ):
        body = assert_error(getattr(kit.client, method)(path, headers=scoped), 404, "NOT_FOUND")
        assert "qb" not in body["error"]
    submitted = kit.client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "qb"}, headers=scoped)
    assert_error(submitted, 404, "NOT_FOUND")
    listed = kit.client.get("/api/v1/jobs", headers=scoped).get_json()
    assert [j["id"] for j in listed["data"]] == [own_id] and listed["total"] == 1


def test_a_token_scoped_to_several_queues_lists_each_one_by_name(kit):
    _, scoped = kit.token("tenant", "viewer", queues=["qa", "qc"])
    kit.client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "qc"}, headers=kit.admin)
    assert kit.client.get("/api/v1/jobs?queue=qc", headers=scoped).get_json()["total"] == 1
    assert_error(kit.client.get("/api/v1/jobs", headers=scoped), 400, "VALIDATION_ERROR")


def test_a_queue_scoped_token_sees_other_queues_workflows_as_404(kit):
    _, scoped = kit.token("tenant-a", "operator", queues=["qa"])
    body = {"task": "demo.echo", "interval": 3600}
    other = kit.client.post("/api/v1/workflows", json={**body, "name": "b", "queue": "qb"}, headers=kit.admin)
    own = kit.client.post("/api/v1/workflows", json={**body, "name": "a", "queue": "qa"}, headers=kit.admin)
    other_id, own_id = other.get_json()["id"], own.get_json()["id"]
    listed = kit.client.get("/api/v1/workflows", headers=scoped).get_json()["workflows"]
    assert [w["id"] for w in listed] == [own_id]
    for method, path, payload in (
        ("get", f"/api/v1/workflows/{other_id}", None),
        ("get", f"/api/v1/workflows/{other_id}/jobs", None),
        ("post", f"/api/v1/workflows/{other_id}/run", {}),
        ("post", f"/api/v1/workflows/{other_id}/execute-async", {}),
    ):
        assert_error(getattr(kit.client, method)(path, json=payload, headers=scoped), 404, "NOT_FOUND")
    ran = kit.client.post(f"/api/v1/workflows/{own_id}/run", json={}, headers=scoped)
    assert (
        ran.status_code == 201 and ran.get_json()["queue"] == "qa" and ran.get_json()["actor"] == "tenant-a"
    )
    assert kit.client.get(f"/api/v1/workflows/{own_id}", headers=scoped).status_code == 200


def test_a_queue_scoped_token_sees_other_queues_jobs_as_404_in_the_seed_dialects(kit):
    _, scoped = kit.token("tenant-a", "operator", queues=["qa"])
    other = kit.client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "qb"}, headers=kit.admin)
    other_id = other.get_json()["id"]
    for method, path in (
        ("get", f"/@jobs/{other_id}"),
        ("post", f"/@jobs/{other_id}/abort"),
        ("get", f"/api/v1/jobs/status/{other_id}"),
        ("post", f"/api/v1/jobs/cancel/{other_id}"),
        ("get", f"/api/v1/executions/{other_id}"),
    ):
        assert_error(getattr(kit.client, method)(path, headers=scoped), 404, "NOT_FOUND")
    assert kit.client.get("/@jobs", headers=scoped).get_json() == []


def test_a_queue_scoped_token_sees_only_its_queues_in_stats_and_workers(app, client, auth):
    for queue in ("mine", "theirs", "theirs"):
        assert (
            client.post("/api/v1/jobs", json={"task": "demo.noop", "queue": queue}, headers=auth).status_code
            == 201
        )
    created = client.post(
        "/api/v1/tokens", json={"name": "scoped-stats", "role": "viewer", "queues": ["mine"]}, headers=auth
    ).get_json()
    scoped = {"Authorization": f"Bearer {created['token']}"}
    stats = client.get("/api/v1/jobs/stats", headers=scoped).get_json()
    assert stats["pending"] == 1 and stats["total"] == 1
    everything = client.get("/api/v1/jobs/stats", headers=auth).get_json()
    assert everything["pending"] == 3
    assert client.get("/api/v1/workers", headers=scoped).get_json() == {"workers": []}
