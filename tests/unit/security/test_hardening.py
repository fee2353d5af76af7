"""Hardening: security headers, CORS off by default and configurable, no secrets or traces in answers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response

from app.api import permissions
from app.settings import Settings
from tests.unit.security.conftest import assert_error

ME = "/api/v1/auth/me"


def _routes(app: Flask) -> None:
    @app.get("/api/v1/boom")
    def boom() -> Any:
        raise RuntimeError("db password is hunter2-secret")

    @app.get("/page")
    def page() -> Any:
        return Response("<html><body>hi</body></html>", mimetype="text/html")


@pytest.fixture
def hkit(make_kit, monkeypatch):
    monkeypatch.setitem(permissions.REQUIRED_ROLE, "boom", "viewer")
    monkeypatch.setitem(permissions.REQUIRED_ROLE, "page", permissions.PUBLIC)
    return make_kit(setup=_routes)


def test_json_answers_carry_the_security_headers(kit):
    for reply in (
        kit.client.get(ME, headers=kit.admin),
        kit.client.get(ME),
        kit.client.get("/api/v1/nope", headers=kit.admin),
        kit.client.get("/healthz"),
    ):
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
        assert reply.mimetype == "application/json"


def test_api_answers_are_not_cached(kit):
    login = kit.client.post("/api/v1/auth/login", json={"login": "admin", "password": "wrong-password"})
    assert login.headers["Cache-Control"] == "no-store"
    assert kit.client.get(ME, headers=kit.admin).headers["Cache-Control"] == "no-store"


def test_html_pages_get_a_content_security_policy_that_allows_only_self(hkit):
    reply = hkit.client.get("/page")
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_hsts_only_over_https(kit):
    assert "Strict-Transport-Security" not in kit.client.get("/healthz").headers
    secure = kit.client.get("/healthz", base_url="https://jobs.example.com")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_unexpected_error_is_a_bare_500_and_the_secret_stays_out_of_the_answer(hkit, caplog):
    reply = hkit.client.get("/api/v1/boom", headers=hkit.admin)
    body = assert_error(reply, 500, "INTERNAL")
    text = reply.get_data(as_text=True)
    assert body == {"error": "Internal error", "code": "INTERNAL"}
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert "RuntimeError" in caplog.text  # the trace goes to the log, for the operator


def test_oversized_bodies_are_413_before_parsing(kit):
    reply = kit.client.post(
        "/api/v1/jobs",
        data=b"{" + b" " * (2 << 20) + b"}",
        content_type="application/json",
        headers=kit.admin,
    )
    assert_error(reply, 413, "PAYLOAD_TOO_LARGE")


def test_cors_is_off_by_default(kit):
    origin = {"Origin": "https://evil.example"}
    reply = kit.client.get(ME, headers={**kit.admin, **origin})
    assert "Access-Control-Allow-Origin" not in reply.headers
    preflight = kit.client.options(
        "/api/v1/jobs", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert preflight.status_code == 401


def test_cors_allows_only_the_configured_origins(make_kit):
    kit = make_kit(cors_origins=("https://dash.example.com",))
    good = {"Origin": "https://dash.example.com"}
    preflight = kit.client.options(
        "/api/v1/jobs",
        headers={
            **good,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    reply = kit.client.get(ME, headers={**kit.admin, **good})
    assert reply.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "Origin" in reply.headers["Vary"]
    bad = kit.client.get(ME, headers={**kit.admin, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in bad.headers
    # a preflight is never a way around auth: the real request still needs its token
    assert_error(kit.client.get(ME, headers=good), 401, "UNAUTHORIZED")


def test_cors_origins_are_validated_at_start():
    from app.errors import ConfigError

    assert Settings.from_env(
        {"JOBLINE_CORS_ORIGINS": "https://a.example, http://b.example:8080"}
    ).cors_origins == (
        "https://a.example",
        "http://b.example:8080",
    )
    with pytest.raises(ConfigError, match="JOBLINE_CORS_ORIGINS"):
        Settings.from_env({"JOBLINE_CORS_ORIGINS": "https://a.example/path"})


def test_settings_repr_hides_secrets():
    s = Settings(redis_url="redis://u:redis-pass@h:1/0", admin_password="admin-pass-123", secret_key="k" * 40)
    text = repr(s)
    assert "redis-pass" not in text and "admin-pass-123" not in text and "k" * 40 not in text


def test_redis_urls_keep_tls_and_credentials(monkeypatch):
    """rediss:// with credentials and TLS options goes to redis-py untouched (no connection is made here)."""
    from redis.connection import SSLConnection

    from app.store.connection import connect, redact_url

    url = "rediss://jobline:s3cret@redis.internal:6380/2?ssl_cert_reqs=required&ssl_ca_certs=/etc/ssl/ca.pem"
    client = connect(Settings(redis_url=url))
    pool = client.connection_pool
    assert pool.connection_class is SSLConnection
    kwargs = pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("jobline", "s3cret", 2)
    assert (kwargs["host"], kwargs["port"], kwargs["ssl_ca_certs"]) == (
        "redis.internal",
        6380,
        "/etc/ssl/ca.pem",
    )
    assert redact_url(url) == url.replace("s3cret", "***")
