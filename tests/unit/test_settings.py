"""Settings.from_env: every variable parses, bad values fail naming the variable, unsafe combinations fail."""

from __future__ import annotations

from dataclasses import fields

import pytest

from app.errors import ConfigError
from app.settings import DEV_SECRET, Settings, settings_table

GOOD: dict[str, tuple[str, str, object]] = {
    # variable: (raw value, field, parsed value)
    "REDIS_URL": ("redis://:pw@10.0.0.5:6380/2", "redis_url", "redis://:pw@10.0.0.5:6380/2"),
    "JOBLINE_ENV": ("Production", "env", "production"),
    "JOBLINE_TASK_MODULES": (" reports.tasks , ,mail ", "task_modules", ("reports.tasks", "mail")),
    "JOBLINE_QUEUES": ("high,default,low", "queues", ("high", "default", "low")),
    "JOBLINE_RETRY_DELAYS": ("0, 1.5,60", "retry_delays_s", (0.0, 1.5, 60.0)),
    "JOBLINE_DEFAULT_TIMEOUT": ("120", "default_timeout_s", 120),
    "JOBLINE_MAX_BODY": ("2048", "max_body_bytes", 2048),
    "JOBLINE_MAX_RESULT": ("4096", "max_result_bytes", 4096),
    "JOBLINE_KEEP_COMPLETED": ("10", "keep_completed", 10),
    "JOBLINE_KEEP_FAILED": ("0", "keep_failed", 0),
    "JOBLINE_KEEP_CANCELED": ("7", "keep_canceled", 7),
    "JOBLINE_RESULT_TTL": ("3600", "result_ttl_s", 3600),
    "JOBLINE_WAIT_ALERT": ("90", "wait_alert_s", 90.0),
    "JOBLINE_HEARTBEAT": ("2.5", "heartbeat_s", 2.5),
    "JOBLINE_LEASE": ("45", "lease_s", 45.0),
    "JOBLINE_SHUTDOWN_GRACE": ("0", "shutdown_grace_s", 0.0),
    "JOBLINE_CHILD_MAX_JOBS": ("1000", "child_max_jobs", 1000),
    "JOBLINE_ADMIN_PASSWORD": ("s3cret", "admin_password", "s3cret"),
    "JOBLINE_SECRET_KEY": ("k" * 40, "secret_key", "k" * 40),
    "JOBLINE_TOKEN_TTL": ("600", "token_ttl_s", 600),
    "JOBLINE_REDIS_TIMEOUT": ("0.5", "redis_timeout_s", 0.5),
    "JOBLINE_LOG_LEVEL": ("DEBUG", "log_level", "debug"),
    "JOBLINE_API_WORKERS": ("4", "api_workers", 4),
    "JOBLINE_API_THREADS": ("8", "api_threads", 8),
    "JOBLINE_API_WORKER_CLASS": ("GTHREAD", "api_worker_class", "gthread"),
    "JOBLINE_API_CONNECTIONS": ("2500", "api_connections", 2500),
    "JOBLINE_REDIS_POOL": ("16", "redis_pool", 16),
    "JOBLINE_SSE_HEARTBEAT": ("2.5", "sse_heartbeat_s", 2.5),
    "JOBLINE_LOG_LINES": ("0", "log_lines", 0),
    "JOBLINE_LOG_LINE_CHARS": ("200", "log_line_chars", 200),
    "JOBLINE_ANONYMOUS_ROLE": ("viewer", "anonymous_role", "viewer"),
    "JOBLINE_LOGIN_RATE": ("0", "login_rate_per_min", 0),
    "JOBLINE_RATE_LIMIT": ("600", "rate_limit_per_min", 600),
    "JOBLINE_CORS_ORIGINS": (
        "https://dash.example.com, http://localhost:3000",
        "cors_origins",
        ("https://dash.example.com", "http://localhost:3000"),
    ),
    "JOBLINE_PROXY_HOPS": ("1", "proxy_hops", 1),
}

BAD: list[tuple[str, str]] = [
    ("REDIS_URL", "localhost:6379"),
    ("REDIS_URL", "http://localhost:6379"),
    ("JOBLINE_ENV", "staging"),
    ("JOBLINE_QUEUES", "ok,bad queue"),
    ("JOBLINE_QUEUES", "-leading"),
    ("JOBLINE_RETRY_DELAYS", "0,ten"),
    ("JOBLINE_RETRY_DELAYS", "-1"),
    ("JOBLINE_RETRY_DELAYS", " , "),
    ("JOBLINE_DEFAULT_TIMEOUT", "0"),
    ("JOBLINE_DEFAULT_TIMEOUT", "3601"),
    ("JOBLINE_DEFAULT_TIMEOUT", "1.5"),
    ("JOBLINE_MAX_BODY", "1k"),
    ("JOBLINE_MAX_BODY", "100"),
    ("JOBLINE_MAX_RESULT", "x"),
    ("JOBLINE_KEEP_COMPLETED", "-1"),
    ("JOBLINE_KEEP_FAILED", "many"),
    ("JOBLINE_KEEP_CANCELED", "1e3"),
    ("JOBLINE_RESULT_TTL", "0"),
    ("JOBLINE_WAIT_ALERT", "0"),
    ("JOBLINE_HEARTBEAT", "0.1"),
    ("JOBLINE_HEARTBEAT", "fast"),
    ("JOBLINE_LEASE", "0.5"),
    ("JOBLINE_LEASE", "601"),
    ("JOBLINE_SHUTDOWN_GRACE", "-1"),
    ("JOBLINE_CHILD_MAX_JOBS", "-5"),
    ("JOBLINE_TOKEN_TTL", "59"),
    ("JOBLINE_REDIS_TIMEOUT", "0"),
    ("JOBLINE_LOG_LEVEL", "verbose"),
    ("JOBLINE_API_WORKERS", "0"),
    ("JOBLINE_API_THREADS", "lots"),
    ("JOBLINE_API_WORKER_CLASS", "sync"),
    ("JOBLINE_API_CONNECTIONS", "5"),
    ("JOBLINE_REDIS_POOL", "1"),
    ("JOBLINE_SSE_HEARTBEAT", "0"),
    ("JOBLINE_LOG_LINES", "-1"),
    ("JOBLINE_LOG_LINE_CHARS", "10"),
    ("JOBLINE_ANONYMOUS_ROLE", "admin"),
    ("JOBLINE_LOGIN_RATE", "-1"),
    ("JOBLINE_RATE_LIMIT", "fast"),
    ("JOBLINE_CORS_ORIGINS", "https://a.example/path"),
    ("JOBLINE_CORS_ORIGINS", "dash.example.com"),
    ("JOBLINE_PROXY_HOPS", "11"),
]


def test_defaults_from_an_empty_environment():
    s = Settings.from_env({})
    assert s == Settings()
    assert s.retry_delays_s == (0.0, 10.0, 60.0)
    assert s.default_timeout_s == 30
    assert s.max_body_bytes == 1 << 20
    assert (s.keep_completed, s.keep_failed, s.keep_canceled) == (1000, 5000, 1000)
    assert s.result_ttl_s == 7 * 86400
    assert s.queues == ("default",)
    assert s.anonymous_role == "none"


def test_every_variable_is_covered_here():
    assert {f.metadata["env"] for f in fields(Settings)} == set(GOOD)


@pytest.mark.parametrize("var", list(GOOD))
def test_each_variable_parses(var):
    raw, field, value = GOOD[var]
    env = {var: raw}
    if var == "JOBLINE_ENV":
        env |= {"JOBLINE_SECRET_KEY": "k" * 40, "JOBLINE_ADMIN_PASSWORD": "pw"}
    if var == "JOBLINE_HEARTBEAT":
        env["JOBLINE_LEASE"] = "30"
    assert getattr(Settings.from_env(env), field) == value


@pytest.mark.parametrize("var", list(GOOD))
def test_empty_value_means_default(var):
    assert Settings.from_env({var: ""}) == Settings()


@pytest.mark.parametrize(("var", "raw"), BAD)
def test_bad_values_name_the_variable(var, raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({var: raw})
    assert var in caught.value.message


@pytest.mark.parametrize("url", ["redis://localhost", "rediss://u:p@h:6380/1", "unix:///tmp/redis.sock"])
def test_redis_url_schemes(url):
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(("heartbeat", "lease"), [("5", "10"), ("5", "9"), ("10", "5")])
def test_lease_must_exceed_twice_the_heartbeat(heartbeat, lease):
    with pytest.raises(ConfigError, match="JOBLINE_LEASE"):
        Settings.from_env({"JOBLINE_HEARTBEAT": heartbeat, "JOBLINE_LEASE": lease})


def test_lease_just_over_twice_the_heartbeat_is_fine():
    s = Settings.from_env({"JOBLINE_HEARTBEAT": "5", "JOBLINE_LEASE": "10.5"})
    assert (s.heartbeat_s, s.lease_s) == (5.0, 10.5)


def test_production_refuses_the_dev_secret_and_a_missing_password():
    with pytest.raises(ConfigError, match="JOBLINE_SECRET_KEY"):
        Settings.from_env({"JOBLINE_ENV": "production", "JOBLINE_ADMIN_PASSWORD": "pw"})
    with pytest.raises(ConfigError, match="JOBLINE_SECRET_KEY"):
        Settings.from_env(
            {"JOBLINE_ENV": "production", "JOBLINE_ADMIN_PASSWORD": "pw", "JOBLINE_SECRET_KEY": DEV_SECRET}
        )
    with pytest.raises(ConfigError, match="JOBLINE_ADMIN_PASSWORD"):
        Settings.from_env({"JOBLINE_ENV": "production", "JOBLINE_SECRET_KEY": "k" * 40})


def test_retry_delay_repeats_the_last():
    s = Settings.from_env({"JOBLINE_RETRY_DELAYS": "0,10,60"})
    assert [s.retry_delay_s(n) for n in (1, 2, 3, 4, 9)] == [0, 10, 60, 60, 60]


def test_keep_for():
    s = Settings(keep_completed=1, keep_failed=2, keep_canceled=3)
    assert [s.keep_for(x) for x in ("completed", "failed", "canceled")] == [1, 2, 3]


def test_with_changes_is_a_copy():
    s = Settings()
    t = s.with_changes(queues=("a",))
    assert s.queues == ("default",) and t.queues == ("a",)


def test_settings_table_lists_every_variable():
    assert [row[0] for row in settings_table()] == [f.metadata["env"] for f in fields(Settings)]
