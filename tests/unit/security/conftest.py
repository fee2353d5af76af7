"""Fixtures of the security tests: apps with chosen settings on fakeredis, users and API tokens per role."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from tests.conftest import login, make_settings


class AppKit:
    """An app on fakeredis with helpers to make users and tokens (admin calls go through the API)."""

    def __init__(self, setup: Any = None, **overrides: Any) -> None:
        from app.api import create_app

        self.redis = fakeredis.FakeRedis()
        self.settings = make_settings(**overrides)
        self.app = create_app(self.settings, self.redis)
        if setup is not None:
            setup(self.app)  # routes must be added before the first request
        self.client = self.app.test_client()
        self.admin = login(self.client)

    def user(self, login_name: str, role: str, password: str = "password-123") -> dict[str, str]:
        """Create a user and return its login headers."""
        reply = self.client.post(
            "/api/v1/users",
            json={"login": login_name, "password": password, "role": role},
            headers=self.admin,
        )
        assert reply.status_code == 201, reply.get_json()
        return login(self.client, password=password, user=login_name)

    def token(self, name: str, role: str, **extra: Any) -> tuple[str, dict[str, str]]:
        """Create an API token; (its id, its headers)."""
        reply = self.client.post(
            "/api/v1/tokens", json={"name": name, "role": role, **extra}, headers=self.admin
        )
        assert reply.status_code == 201, reply.get_json()
        body = reply.get_json()
        return body["id"], {"Authorization": f"Bearer {body['token']}"}


@pytest.fixture
def kit() -> AppKit:
    return AppKit()


@pytest.fixture
def make_kit() -> Any:
    return AppKit


def assert_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    """The reply is the contract's error shape with this status and code."""
    assert reply.status_code == status, (reply.status_code, reply.get_data(as_text=True)[:300])
    body = reply.get_json()
    assert isinstance(body, dict) and set(body) <= {"error", "code", "details"}, body
    assert body["code"] == code and isinstance(body["error"], str)
    return body
