"""The one permission table, tested exhaustively: every route of the app, every method, every role.

For each route: no token -> 401; a role below the declared one -> 403; the declared role -> neither
401 nor 403. A route whose endpoint is not in app/api/permissions.py is a failure.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from flask import Flask, jsonify

from app.api.permissions import PUBLIC, REQUIRED_ROLE
from app.models import ROLES
from tests.unit.security.conftest import AppKit, assert_error

# Path arguments: ids that do not exist, so that calls at the declared role change nothing.
PLACEHOLDERS = {"login": "nobody", "token_id": "0000000000000000", "name": "no-such-queue"}
# Endpoints that need no token. Adding one is a security decision: add it here on purpose.
PUBLIC_ALLOWED = {
    "health.healthz",
    "health.readyz",
    "health.metrics",
    "auth.login",
    "nick.nick_login",
    "openapi.spec",
}


def _url(rule: Any) -> str:
    return rule.build({arg: PLACEHOLDERS.get(arg, "no-such-id") for arg in rule.arguments})[1]


def _call(client: Any, method: str, url: str, headers: dict[str, str]) -> int:
    """Status of one call; streams are not read (buffered=False) so an SSE endpoint cannot block."""
    body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    response = client.open(url, method=method, headers=headers, buffered=False, **body)
    status = response.status_code
    response.close()
    return int(status)


def permission_problems(app: Flask, client: Any, headers: dict[str, dict[str, str]]) -> list[str]:
    """Every way the app's routes disagree with the permission table (empty when all is well)."""
    problems: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        required = REQUIRED_ROLE.get(rule.endpoint)
        if required is None:
            problems.append(f"{rule.endpoint} ({rule.rule}) has no role in app/api/permissions.py")
            continue
        url = _url(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            where = f"{method} {rule.rule} [{rule.endpoint}, {required}]"
            anonymous = _call(client, method, url, {})
            if required == PUBLIC:
                if anonymous in (401, 403):
                    problems.append(f"{where}: public, but {anonymous} without a token")
                continue
            if anonymous != 401:
                problems.append(f"{where}: {anonymous} without a token, expected 401")
            rank = ROLES.index(required)
            for role in ROLES[:rank]:
                status = _call(client, method, url, headers[role])
                if status != 403:
                    problems.append(f"{where}: {status} for {role}, expected 403")
            status = _call(client, method, url, headers[required])
            if status in (401, 403):
                problems.append(f"{where}: {status} for {required}, expected access")
    return problems


def role_headers(kit: AppKit) -> dict[str, dict[str, str]]:
    """API tokens per role (not login tokens: the walk calls logout, which would revoke a login token)."""
    return {role: kit.token(f"walk-{role}", role)[1] for role in ROLES}


def test_every_route_obeys_the_permission_table(kit):
    problems = permission_problems(kit.app, kit.client, role_headers(kit))
    assert problems == [], "\n".join(problems)


def test_the_walk_covers_every_declared_endpoint(kit):
    routed = {rule.endpoint for rule in kit.app.url_map.iter_rules()}
    stale = sorted(set(REQUIRED_ROLE) - routed)
    assert stale == [], f"declared in permissions.py but not routed: {stale}"


def add_undeclared_route(app: Flask) -> None:
    @app.get("/api/v1/undeclared")
    def undeclared() -> Any:
        return jsonify({"secret": "data"})


def test_a_route_without_a_declaration_fails_the_walk_and_is_refused(make_kit):
    kit = make_kit(setup=add_undeclared_route)
    problems = permission_problems(kit.app, kit.client, role_headers(kit))
    assert any("undeclared" in p and "no role" in p for p in problems), problems
    assert_error(kit.client.get("/api/v1/undeclared", headers=kit.admin), 403, "FORBIDDEN")


def test_a_hole_in_the_hook_fails_the_walk(make_kit, monkeypatch):
    kit = make_kit()
    headers = role_headers(kit)
    hook = sys.modules["app.api.auth"]  # (app.api's name `auth` is the views module)
    monkeypatch.setattr(hook, "role_allows", lambda role, required: True)  # a broken role check
    problems = permission_problems(kit.app, kit.client, headers)
    assert any("expected 403" in p for p in problems), problems


def test_public_endpoints_are_the_allowed_few():
    public = {endpoint for endpoint, role in REQUIRED_ROLE.items() if role == PUBLIC}
    assert public <= PUBLIC_ALLOWED, (
        f"new public endpoints (add to PUBLIC_ALLOWED on purpose): {public - PUBLIC_ALLOWED}"
    )


def test_the_table_names_only_known_roles():
    assert set(REQUIRED_ROLE.values()) <= {PUBLIC, *ROLES}


def test_viewers_change_nothing(kit):
    """The contract: viewers may GET, poll, stream and read logs; every change needs operator or more."""
    viewer_endpoints = {e for e, role in REQUIRED_ROLE.items() if role in ("viewer", PUBLIC)}
    mutating = set()
    for rule in kit.app.url_map.iter_rules():
        if rule.endpoint in viewer_endpoints and (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}:
            mutating.add(rule.endpoint)
    # logging in and out change no job, queue, workflow or user
    assert mutating <= {"auth.login", "auth.logout", "nick.nick_login"}, mutating


@pytest.mark.parametrize("endpoint_prefix", ["users.", "tokens."])
def test_user_and_token_management_is_admin_only(endpoint_prefix):
    declared = {e: r for e, r in REQUIRED_ROLE.items() if e.startswith(endpoint_prefix)}
    assert declared and set(declared.values()) == {"admin"}


def test_the_anonymous_role_applies_only_without_a_header(make_kit):
    kit = make_kit(anonymous_role="viewer")
    assert kit.client.get("/api/v1/jobs").status_code == 200
    assert_error(kit.client.post("/api/v1/jobs", json={"task": "demo.noop"}), 403, "FORBIDDEN")
    assert_error(kit.client.get("/api/v1/jobs", headers={"Authorization": "Bearer bad"}), 401, "UNAUTHORIZED")
    assert_error(kit.client.get("/api/v1/users"), 403, "FORBIDDEN")
