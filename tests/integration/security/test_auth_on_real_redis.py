"""Auth state on a real Redis: shared by API processes at once, atomic under concurrency, counters expire."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app import keys
from app.api import create_app
from tests.conftest import login

pytestmark = pytest.mark.integration
ME = "/api/v1/auth/me"


@pytest.fixture
def two_apis(real_settings, real_redis):
    """Two app instances on one Redis, like two gunicorn workers or two API hosts."""
    return create_app(real_settings, real_redis).test_client(), create_app(
        real_settings, real_redis
    ).test_client()


def test_disabling_a_user_on_one_api_refuses_their_token_on_the_other_at_once(two_apis):
    a, b = two_apis
    admin = login(a)
    a.post(
        "/api/v1/users", json={"login": "bob", "password": "bob-password", "role": "viewer"}, headers=admin
    )
    bob = login(b, "bob-password", "bob")
    assert b.get(ME, headers=bob).status_code == 200
    assert a.patch("/api/v1/users/bob", json={"disabled": True}, headers=admin).status_code == 200
    assert b.get(ME, headers=bob).status_code == 401


def test_revoking_an_api_token_on_one_api_refuses_it_on_the_other_at_once(two_apis):
    a, b = two_apis
    admin = login(a)
    created = a.post("/api/v1/tokens", json={"name": "ci", "role": "operator"}, headers=admin).get_json()
    token = {"Authorization": f"Bearer {created['token']}"}
    assert b.get(ME, headers=token).status_code == 200
    assert a.delete(f"/api/v1/tokens/{created['id']}", headers=admin).status_code == 204
    assert b.get(ME, headers=token).status_code == 401


def test_logout_on_one_api_is_seen_by_the_other(two_apis):
    a, b = two_apis
    admin = login(a)
    assert a.post("/api/v1/auth/logout", headers=admin).status_code == 204
    assert b.get(ME, headers=admin).status_code == 401


def test_concurrent_creates_of_one_login_make_exactly_one_user(real_app, real_auth):
    def create(i: int) -> int:
        body = {"login": "race", "password": f"password-{i:04d}", "role": "viewer"}
        return real_app.test_client().post("/api/v1/users", json=body, headers=real_auth).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7, statuses


def test_concurrent_creates_of_one_token_name_make_exactly_one_token(real_app, real_auth):
    def create(i: int) -> int:
        body = {"name": "race", "role": "viewer"}
        return real_app.test_client().post("/api/v1/tokens", json=body, headers=real_auth).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(16)))
    assert statuses == [201] + [409] * 15, statuses


def test_a_token_rate_limit_holds_exactly_under_concurrency(real_app, real_auth, real_redis):
    created = real_app.test_client().post(
        "/api/v1/tokens", json={"name": "busy", "role": "viewer", "rateLimit": 10}, headers=real_auth
    )
    headers = {"Authorization": f"Bearer {created.get_json()['token']}"}

    def call(_: int) -> int:
        return real_app.test_client().get(ME, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(40)))
    assert statuses.count(200) == 10 and statuses.count(429) == 30
    (counter,) = real_redis.keys(keys.rate("p", "token:*"))
    assert 0 < real_redis.pttl(counter) <= 60_000


def test_login_rate_limit_uses_a_real_expiring_window(real_client, real_redis):
    for _ in range(11):
        reply = real_client.post("/api/v1/auth/login", json={"login": "admin", "password": "wrong-password"})
    assert reply.status_code == 429
    retry_after = int(reply.headers["Retry-After"])
    ttl_ms = real_redis.pttl(keys.rate("login", "admin"))
    assert 0 < ttl_ms <= 60_000 and abs(retry_after - ttl_ms / 1000) <= 2
