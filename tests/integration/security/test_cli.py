"""`jobline users ...` against a real Redis with no API running, and production mode refusing weak secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, login, settings_env

pytestmark = pytest.mark.integration


def jobline(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture
def env(real_settings, real_redis):
    return settings_env(real_settings)


def test_users_add_list_disable_enable_without_the_api(env, real_client):
    added = jobline(
        env, "users", "add", "bob", "--role", "operator", "--password-stdin", stdin="bob-password\n"
    )
    assert added.returncode == 0, added.stderr
    assert "created bob (operator)" in added.stdout
    listed = jobline(env, "users", "list")
    assert listed.returncode == 0
    assert [line.split()[:3] for line in listed.stdout.splitlines()] == [
        ["admin", "admin", "enabled"],
        ["bob", "operator", "enabled"],
    ]

    bob = login(real_client, "bob-password", "bob")
    assert real_client.get("/api/v1/auth/me", headers=bob).get_json()["role"] == "operator"
    assert jobline(env, "users", "disable", "bob").returncode == 0
    assert real_client.get("/api/v1/auth/me", headers=bob).status_code == 401  # at once
    assert "disabled" in jobline(env, "users", "list", "--json").stdout
    assert jobline(env, "users", "enable", "bob").returncode == 0
    login(real_client, "bob-password", "bob")


def test_users_errors_exit_1_with_a_message(env):
    jobline(env, "users", "add", "bob", "--password-stdin", stdin="bob-password\n")
    again = jobline(env, "users", "add", "bob", "--password-stdin", stdin="other-password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = jobline(env, "users", "add", "carol", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "password" in short.stderr
    missing = jobline(env, "users", "disable", "nobody")
    assert missing.returncode == 1 and "not found" in missing.stderr
    last = jobline(env, "users", "disable", "admin")
    assert last.returncode == 1 and "last enabled admin" in last.stderr
    no_tty = jobline(env, "users", "add", "dave")
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr


def test_passwd_revokes_earlier_tokens(env, real_client):
    jobline(env, "users", "add", "bob", "--password-stdin", stdin="bob-password\n")
    bob = login(real_client, "bob-password", "bob")
    assert (
        jobline(env, "users", "passwd", "bob", "--password-stdin", stdin="new-bob-password\n").returncode == 0
    )
    assert real_client.get("/api/v1/auth/me", headers=bob).status_code == 401
    login(real_client, "new-bob-password", "bob")


def _production(env, secret):
    env = {**env, "JOBLINE_ENV": "production"}
    env.pop("JOBLINE_SECRET_KEY", None)
    if secret is not None:
        env["JOBLINE_SECRET_KEY"] = secret
    return env


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (None, "JOBLINE_SECRET_KEY must be set"),
        ("", "JOBLINE_SECRET_KEY must be set"),
        ("jobline-dev-secret-change-me", "JOBLINE_SECRET_KEY must be set"),
        ("too-short-secret", "at least 32 characters"),
    ],
)
def test_production_mode_refuses_a_weak_secret(env, secret, expected):
    result = jobline(_production(env, secret), "users", "list")
    assert result.returncode == 2
    assert expected in result.stderr
    assert env["JOBLINE_ADMIN_PASSWORD"] not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["api", "--port", "1"], ["worker", "--burst"], ["scheduler"]])
def test_every_process_refuses_to_start_in_production_with_the_default_secret(env, command):
    result = jobline(_production(env, None), *command)
    assert result.returncode == 2 and "JOBLINE_SECRET_KEY" in result.stderr


def test_production_mode_starts_with_a_strong_secret(env):
    env = {**env, "JOBLINE_ENV": "production", "JOBLINE_SECRET_KEY": "s" * 48}
    result = jobline(env, "users", "list")
    assert result.returncode == 0, result.stderr
    assert "s" * 48 not in result.stdout + result.stderr
