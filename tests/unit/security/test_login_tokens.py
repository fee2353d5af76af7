"""Login tokens: signed, expiring, revocable (logout, new password, disable, delete); roles apply at once."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from itsdangerous import URLSafeSerializer

from app.errors import UnauthorizedError
from app.services.auth import TOKEN_SALT
from app.services.wiring import build_auth_service
from tests.conftest import ADMIN_PASSWORD, login, make_settings
from tests.unit.security.conftest import assert_error

ME = "/api/v1/auth/me"


def test_login_answers_a_token_that_works(kit):
    reply = kit.client.post("/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD})
    assert reply.status_code == 200
    body = reply.get_json()
    assert set(body) == {"token", "expiresAt", "role"} and body["role"] == "admin"
    assert body["expiresAt"].endswith("Z")
    me = kit.client.get(ME, headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json() == {"name": "admin", "role": "admin", "kind": "user", "queues": None}


def test_wrong_password_and_unknown_login_answer_the_same_401(kit):
    kit.user("bob", "viewer")
    wrong = kit.client.post("/api/v1/auth/login", json={"login": "bob", "password": "not-his-password"})
    unknown = kit.client.post("/api/v1/auth/login", json={"login": "nobody", "password": "whatever-pw"})
    assert assert_error(wrong, 401, "UNAUTHORIZED") == assert_error(unknown, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer x.y.z",
        "Bearer jlt_0000000000000000_" + "A" * 43,
    ],
)
def test_bad_authorization_headers_are_401_with_one_body(kit, header):
    reply = kit.client.get(ME, headers={"Authorization": header})
    assert assert_error(reply, 401, "UNAUTHORIZED")["error"] == "Invalid or expired token"


def test_missing_token_is_401(kit):
    assert_error(kit.client.get(ME), 401, "UNAUTHORIZED")


def test_scheme_is_case_insensitive_and_whitespace_tolerated(kit):
    token = kit.admin["Authorization"].split(" ", 1)[1]
    assert kit.client.get(ME, headers={"Authorization": f"bearer   {token} "}).status_code == 200


def test_a_token_signed_with_another_secret_is_refused(kit):
    forged = URLSafeSerializer(
        "another-secret", salt=TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps({"sub": "admin", "st": "x", "jti": "1", "exp": 2**40})
    assert_error(kit.client.get(ME, headers={"Authorization": f"Bearer {forged}"}), 401, "UNAUTHORIZED")


def test_a_tampered_token_is_refused(kit):
    token = kit.admin["Authorization"].split(" ", 1)[1]
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    assert_error(kit.client.get(ME, headers={"Authorization": f"Bearer {tampered}"}), 401, "UNAUTHORIZED")


def test_a_token_expires_after_its_ttl():
    redis = fakeredis.FakeRedis()
    settings = make_settings(token_ttl_s=3600)
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    auth = build_auth_service(settings, redis)
    auth.clock = lambda: now[0]
    auth.users.bootstrap_admin()
    issued = auth.login("admin", ADMIN_PASSWORD)
    assert issued.expires_at == now[0] + timedelta(hours=1)
    now[0] += timedelta(seconds=3599)
    assert auth.principal_for(issued.token).name == "admin"
    now[0] += timedelta(seconds=1)
    with pytest.raises(UnauthorizedError):
        auth.principal_for(issued.token)


def test_an_expired_token_is_401_through_the_api(kit):
    auth = build_auth_service(kit.settings, kit.redis)
    auth.clock = lambda: datetime.now(UTC) - timedelta(seconds=kit.settings.token_ttl_s + 5)
    old = auth.login("admin", ADMIN_PASSWORD).token
    assert_error(kit.client.get(ME, headers={"Authorization": f"Bearer {old}"}), 401, "UNAUTHORIZED")


def test_logout_revokes_only_that_token(kit):
    other = login(kit.client)
    assert kit.client.post("/api/v1/auth/logout", headers=kit.admin).status_code == 204
    assert_error(kit.client.get(ME, headers=kit.admin), 401, "UNAUTHORIZED")
    assert kit.client.get(ME, headers=other).status_code == 200


def test_disabling_a_user_revokes_their_tokens_at_once(kit):
    bob = kit.user("bob", "operator")
    assert kit.client.get(ME, headers=bob).status_code == 200
    reply = kit.client.patch("/api/v1/users/bob", json={"disabled": True}, headers=kit.admin)
    assert reply.status_code == 200 and reply.get_json()["disabled"] is True
    assert_error(kit.client.get(ME, headers=bob), 401, "UNAUTHORIZED")
    refused = kit.client.post("/api/v1/auth/login", json={"login": "bob", "password": "password-123"})
    assert_error(refused, 401, "UNAUTHORIZED")
    kit.client.patch("/api/v1/users/bob", json={"disabled": False}, headers=kit.admin)
    assert_error(kit.client.get(ME, headers=bob), 401, "UNAUTHORIZED")  # enabling does not revive old tokens
    assert kit.client.get(ME, headers=login(kit.client, "password-123", "bob")).status_code == 200


def test_a_new_password_revokes_earlier_tokens(kit):
    bob = kit.user("bob", "viewer")
    kit.client.patch("/api/v1/users/bob", json={"password": "brand-new-pass"}, headers=kit.admin)
    assert_error(kit.client.get(ME, headers=bob), 401, "UNAUTHORIZED")
    assert kit.client.get(ME, headers=login(kit.client, "brand-new-pass", "bob")).status_code == 200


def test_a_role_change_applies_to_existing_tokens_at_once(kit):
    bob = kit.user("bob", "operator")
    job = {"task": "demo.noop"}
    assert kit.client.post("/api/v1/jobs", json=job, headers=bob).status_code == 201
    kit.client.patch("/api/v1/users/bob", json={"role": "viewer"}, headers=kit.admin)
    assert_error(kit.client.post("/api/v1/jobs", json=job, headers=bob), 403, "FORBIDDEN")


def test_a_deleted_then_recreated_user_does_not_get_old_tokens_back(kit):
    bob = kit.user("bob", "admin")
    assert kit.client.delete("/api/v1/users/bob", headers=kit.admin).status_code == 204
    assert_error(kit.client.get(ME, headers=bob), 401, "UNAUTHORIZED")
    kit.user("bob", "admin")
    assert_error(kit.client.get(ME, headers=bob), 401, "UNAUTHORIZED")


def test_changing_the_admin_password_in_the_environment_revokes_admin_tokens(kit):
    from app.api import create_app

    assert kit.client.get(ME, headers=kit.admin).status_code == 200
    restarted = create_app(make_settings(admin_password="a-new-admin-password"), kit.redis).test_client()
    assert_error(restarted.get(ME, headers=kit.admin), 401, "UNAUTHORIZED")
    refused = restarted.post("/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD})
    assert_error(refused, 401, "UNAUTHORIZED")
    assert restarted.get(ME, headers=login(restarted, "a-new-admin-password")).status_code == 200


def test_a_restart_with_the_same_admin_password_keeps_tokens(kit):
    from app.api import create_app

    restarted = create_app(make_settings(), kit.redis).test_client()
    assert restarted.get(ME, headers=kit.admin).status_code == 200


def test_api_tokens_cannot_log_out(kit):
    _, headers = kit.token("ci", "viewer")
    assert_error(kit.client.post("/api/v1/auth/logout", headers=headers), 409, "CONFLICT")


def test_tokens_are_never_logged(kit, caplog):
    caplog.set_level("DEBUG")
    token = kit.admin["Authorization"].split(" ", 1)[1]
    _, api_headers = kit.token("ci", "operator")
    api_token = api_headers["Authorization"].split(" ", 1)[1]
    for headers in (kit.admin, api_headers, {"Authorization": f"Bearer {token}x"}):
        kit.client.get(ME, headers=headers)
        kit.client.post("/api/v1/jobs", json={"task": "nope"}, headers=headers)
    kit.client.post("/api/v1/auth/login", json={"login": "admin", "password": "wrong-password"})
    kit.client.post("/api/v1/auth/logout", headers=kit.admin)
    logged = caplog.text
    for secret in (token, api_token, api_token.rsplit("_", 1)[1], ADMIN_PASSWORD, "wrong-password"):
        assert secret not in logged


def test_the_api_starts_while_redis_is_down_and_bootstraps_the_admin_when_it_is_back():
    from app.api import create_app

    server = fakeredis.FakeServer()
    server.connected = False
    client = create_app(make_settings(), fakeredis.FakeRedis(server=server)).test_client()
    down = client.post("/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD})
    assert_error(down, 503, "UNAVAILABLE")
    server.connected = True
    assert client.get(ME, headers=login(client)).status_code == 200
