"""/api/v1/users: admin-only user management, hashed passwords, conflicts, the last admin kept."""

from __future__ import annotations

import pytest

from app import keys
from tests.conftest import ADMIN_PASSWORD
from tests.unit.security.conftest import assert_error

USERS = "/api/v1/users"


def test_create_answers_201_with_the_contract_fields(kit):
    reply = kit.client.post(
        USERS, json={"login": "carol", "password": "carol-password", "role": "operator"}, headers=kit.admin
    )
    assert reply.status_code == 201
    body = reply.get_json()
    assert {"login": "carol", "role": "operator", "disabled": False}.items() <= body.items()
    assert body["createdAt"].endswith("Z")
    assert reply.headers["Location"].endswith("/api/v1/users/carol")
    assert "password" not in body and "pw" not in body


def test_an_existing_login_is_409(kit):
    kit.user("carol", "viewer")
    reply = kit.client.post(
        USERS, json={"login": "carol", "password": "another-pass", "role": "admin"}, headers=kit.admin
    )
    assert_error(reply, 409, "CONFLICT")
    assert kit.client.get(f"{USERS}/carol", headers=kit.admin).get_json()["role"] == "viewer"


def test_passwords_are_stored_only_as_salted_scrypt_hashes(kit):
    kit.user("carol", "viewer", password="carol-password")
    kit.user("dave", "viewer", password="carol-password")
    stored = {login: kit.redis.hget(keys.user(login), "pw").decode() for login in ("carol", "dave")}
    assert all(h.startswith("scrypt:") for h in stored.values())
    assert stored["carol"] != stored["dave"]  # salted
    dump = b"".join(kit.redis.dump(k) or b"" for k in kit.redis.keys("*"))
    assert b"carol-password" not in dump and ADMIN_PASSWORD.encode() not in dump


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"login": "x", "password": "short", "role": "viewer"}, "password"),
        ({"login": "x", "password": "long-enough", "role": "root"}, "role"),
        ({"login": "bad login", "password": "long-enough", "role": "viewer"}, "login"),
        ({"login": "x", "password": "long-enough", "role": "viewer", "isAdmin": True}, "isAdmin"),
        ({"password": "long-enough", "role": "viewer"}, "login"),
    ],
)
def test_invalid_users_are_400(kit, body, field):
    details = assert_error(kit.client.post(USERS, json=body, headers=kit.admin), 400, "VALIDATION_ERROR")
    assert field in details["details"]


def test_list_get_patch_delete(kit):
    kit.user("carol", "viewer")
    logins = [u["login"] for u in kit.client.get(USERS, headers=kit.admin).get_json()["users"]]
    assert logins == ["admin", "carol"]
    patched = kit.client.patch(f"{USERS}/carol", json={"role": "admin"}, headers=kit.admin)
    assert patched.status_code == 200 and patched.get_json()["role"] == "admin"
    assert kit.client.delete(f"{USERS}/carol", headers=kit.admin).status_code == 204
    assert_error(kit.client.get(f"{USERS}/carol", headers=kit.admin), 404, "NOT_FOUND")
    assert_error(kit.client.delete(f"{USERS}/carol", headers=kit.admin), 404, "NOT_FOUND")
    assert_error(
        kit.client.patch(f"{USERS}/carol", json={"role": "viewer"}, headers=kit.admin), 404, "NOT_FOUND"
    )


def test_the_last_enabled_admin_cannot_be_disabled_demoted_or_deleted(kit):
    for reply in (
        kit.client.patch(f"{USERS}/admin", json={"disabled": True}, headers=kit.admin),
        kit.client.patch(f"{USERS}/admin", json={"role": "operator"}, headers=kit.admin),
        kit.client.delete(f"{USERS}/admin", headers=kit.admin),
    ):
        assert_error(reply, 409, "CONFLICT")
    kit.user("root2", "admin")
    assert kit.client.patch(f"{USERS}/admin", json={"disabled": True}, headers=kit.admin).status_code == 200


def test_the_env_managed_admin_password_cannot_be_changed_over_the_api(kit):
    reply = kit.client.patch(f"{USERS}/admin", json={"password": "something-else"}, headers=kit.admin)
    assert "JOBLINE_ADMIN_PASSWORD" in assert_error(reply, 409, "CONFLICT")["error"]


def test_users_endpoints_are_admin_only(kit):
    operator = kit.user("olga", "operator")
    assert_error(kit.client.get(USERS, headers=operator), 403, "FORBIDDEN")
    reply = kit.client.post(
        USERS, json={"login": "eve", "password": "eve-password", "role": "admin"}, headers=operator
    )
    assert_error(reply, 403, "FORBIDDEN")
    assert_error(kit.client.get(f"{USERS}/eve", headers=kit.admin), 404, "NOT_FOUND")


def test_at_most_four_password_checks_run_at_once(monkeypatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from app.services import users

    running, peak, lock = [0], [0], threading.Lock()

    def slow_check(password_hash, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(users, "check_password_hash", slow_check)
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda _: users.verify_password("h", "p"), range(24)))
    assert 1 <= peak[0] <= 4


def test_a_create_that_loses_a_race_is_not_reported_as_created(monkeypatch):
    """WATCH/MULTI: another client creates the login between WATCH and EXEC; the retry must say 409."""
    from datetime import UTC, datetime

    import fakeredis

    from app.models import User
    from app.store.users import UserStore

    server = fakeredis.FakeServer()
    redis, rival = fakeredis.FakeRedis(server=server), fakeredis.FakeRedis(server=server)
    store = UserStore(redis)
    original, raced = redis.transaction, []

    def racing_transaction(func, *watches, **kwargs):
        def func_then_rival_writes(pipe):
            func(pipe)
            if not raced:  # once, after this try queued its writes and before it runs EXEC
                raced.append(True)
                rival.hset(keys.user("race"), mapping={"login": "race", "role": "admin"})

        return original(func_then_rival_writes, *watches, **kwargs)

    monkeypatch.setattr(redis, "transaction", racing_transaction)
    now = datetime.now(UTC)
    assert store.create(User("race", "viewer", False, now, now, "pw", "stamp")) is False
    assert raced and store.find("race").role == "admin"
