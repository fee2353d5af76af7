"""Rate limits: login attempts per login name and per address, requests per token; 429 with Retry-After."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app import keys
from tests.conftest import ADMIN_PASSWORD
from tests.unit.security.conftest import assert_error

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def _login(kit, password, user="admin", address="10.0.0.1"):
    return kit.client.post(
        LOGIN, json={"login": user, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_login_attempts_past_the_limit_get_429_even_with_the_right_password(make_kit):
    kit = make_kit(login_rate_per_min=3)
    for _ in range(3):
        assert_error(_login(kit, "wrong-password"), 401, "UNAUTHORIZED")
    limited = _login(kit, ADMIN_PASSWORD)
    assert_error(limited, 429, "RATE_LIMITED")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_the_login_limit_counts_per_login_name_across_addresses(make_kit):
    kit = make_kit(login_rate_per_min=3)
    for i in range(3):
        _login(kit, "wrong-password", address=f"10.0.0.{i}")
    assert_error(_login(kit, ADMIN_PASSWORD, address="10.9.9.9"), 429, "RATE_LIMITED")
    kit.user("bob", "viewer")
    assert _login(kit, "password-123", user="bob", address="10.9.9.9").status_code == 200


def test_the_login_limit_counts_per_address_across_login_names(make_kit):
    kit = make_kit(login_rate_per_min=3)
    for name in ("a", "b", "c"):
        _login(kit, "wrong-password", user=name, address="10.6.6.6")
    assert_error(_login(kit, ADMIN_PASSWORD, address="10.6.6.6"), 429, "RATE_LIMITED")
    assert _login(kit, ADMIN_PASSWORD, address="10.7.7.7").status_code == 200


def test_a_successful_login_clears_its_login_names_counter(make_kit):
    kit = make_kit(login_rate_per_min=3)
    _login(kit, "wrong-password", address="10.0.0.1")
    _login(kit, "wrong-password", address="10.0.0.2")
    assert _login(kit, ADMIN_PASSWORD, address="10.0.0.3").status_code == 200
    assert_error(_login(kit, "wrong-password", address="10.0.0.4"), 401, "UNAUTHORIZED")
    assert _login(kit, ADMIN_PASSWORD, address="10.0.0.5").status_code == 200


def test_zero_turns_the_login_limit_off(make_kit):
    kit = make_kit(login_rate_per_min=0)
    for _ in range(30):
        assert_error(_login(kit, "wrong-password"), 401, "UNAUTHORIZED")
    assert kit.redis.keys(keys.RATE + "*") == []


def test_a_token_with_its_own_limit_gets_429_past_it_and_others_do_not(kit):
    _, limited = kit.token("busy", "viewer", rateLimit=5)
    _, other = kit.token("calm", "viewer")
    statuses = [kit.client.get(ME, headers=limited).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    reply = kit.client.get(ME, headers=limited)
    assert_error(reply, 429, "RATE_LIMITED")
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert all(kit.client.get(ME, headers=other).status_code == 200 for _ in range(8))


def test_the_default_limit_applies_per_user_and_per_anonymous_address(make_kit):
    kit = make_kit(rate_limit_per_min=4, anonymous_role="viewer")
    statuses = [kit.client.get(ME, headers=kit.admin).status_code for _ in range(5)]
    assert statuses == [200] * 4 + [429]
    anon = [kit.client.get(ME, environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code for _ in range(5)]
    assert anon == [200] * 4 + [429]
    assert kit.client.get(ME, environ_base={"REMOTE_ADDR": "10.1.1.2"}).status_code == 200


def test_a_token_limit_of_zero_means_unlimited_even_with_a_default(make_kit):
    kit = make_kit(rate_limit_per_min=2)
    _, unlimited = kit.token("bulk", "viewer", rateLimit=0)
    assert all(kit.client.get(ME, headers=unlimited).status_code == 200 for _ in range(10))


def test_counters_expire_with_their_window(kit):
    _, limited = kit.token("busy", "viewer", rateLimit=5)
    kit.client.get(ME, headers=limited)
    (key,) = kit.redis.keys(keys.rate("p", "token:*"))
    assert 0 < kit.redis.pttl(key) <= 60_000


def test_the_limiter_fails_closed_with_503_when_redis_is_down(make_kit, monkeypatch):
    kit = make_kit(rate_limit_per_min=100)

    def down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    counters = kit.app.extensions["jobline"].auth.counters
    monkeypatch.setattr(counters, "hit", down)
    reply = kit.client.get(ME, headers=kit.admin)
    assert_error(reply, 503, "UNAVAILABLE")
    assert reply.headers["Retry-After"]


@pytest.mark.parametrize("proxy_hops", [0, 1])
def test_the_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(make_kit, proxy_hops):
    kit = make_kit(login_rate_per_min=1, proxy_hops=proxy_hops)
    headers = {"X-Forwarded-For": "203.0.113.7"}
    kit.client.post(LOGIN, json={"login": "x", "password": "y"}, headers=headers)
    expected = "203.0.113.7" if proxy_hops else "127.0.0.1"
    assert kit.redis.exists(keys.rate("addr", expected))


def test_successful_logins_do_not_use_up_an_address(make_kit):
    kit = make_kit(login_rate_per_min=3)
    for _ in range(10):  # an office behind one NAT, everybody typing the right password
        assert _login(kit, ADMIN_PASSWORD, address="10.4.4.4").status_code == 200
    for _ in range(3):
        _login(kit, "wrong-password", user="someone", address="10.4.4.4")
    assert_error(_login(kit, ADMIN_PASSWORD, address="10.4.4.4"), 429, "RATE_LIMITED")
