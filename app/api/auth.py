"""The auth hook: before any view runs, find the caller, apply its rate limit, check the endpoint's role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, g, request
from redis.exceptions import RedisError

from app.api.context import services
from app.api.permissions import PUBLIC, REQUIRED_ROLE
from app.errors import ForbiddenError, UnauthorizedError
from app.models import Principal
from app.services.auth import role_allows

if TYPE_CHECKING:
    from app.store.readahead import ReadAhead

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"


def bearer_token() -> str:
    """The token of `Authorization: Bearer <token>`; '' when there is none (never logged)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client_address() -> str:
    """The caller's address (X-Forwarded-For is trusted only through JOBLINE_PROXY_HOPS)."""
    return request.remote_addr or ""


# endpoint -> the read of its object (from its view args) that goes in the auth lookup's round trip
_READS_AHEAD: dict[str, Callable[..., ReadAhead[Any] | None]] = {}


def read_ahead(endpoint: str, read: Callable[..., ReadAhead[Any] | None]) -> None:
    """Have `endpoint`'s first read, `read(**view_args)`, ride in the auth lookup; its view calls `ahead()`.

    One round trip instead of two for the requests dashboards repeat most (`GET /jobs/{id}`): under load
    every wait for Redis is one more chance to queue behind other work.
    """
    _READS_AHEAD[endpoint] = read


def ahead() -> ReadAhead[Any] | None:
    """This request's read done with its auth lookup (None: none was, the view reads for itself)."""
    return g.get("read_ahead")


def _riders(endpoint: str) -> tuple[ReadAhead[Any], ...]:
    read = _READS_AHEAD.get(endpoint)
    rider = read(**(request.view_args or {})) if read is not None else None
    if rider is None:
        return ()
    g.read_ahead = rider
    return (rider,)


def _caller(endpoint: str) -> Principal:
    if "Authorization" not in request.headers:
        role = services().settings.anonymous_role
        if role != "none":
            return Principal(ANONYMOUS, role, kind="anonymous")
        raise UnauthorizedError("Authentication required")
    token = bearer_token()
    if not token:
        raise UnauthorizedError("Invalid or expired token")
    return services().auth.principal_for(token, _riders(endpoint))


def check_access() -> None:
    """before_request: 401 without valid credentials, 429 over the rate limit, 403 below the role."""
    endpoint = request.endpoint
    if endpoint is None:
        return  # no route: routing answers 404 or 405
    required = REQUIRED_ROLE.get(endpoint)
    if required is None:
        log.error("endpoint %s has no declared role in app/api/permissions.py; refusing", endpoint)
        raise ForbiddenError("Forbidden")
    if required == PUBLIC:
        g.principal = Principal(ANONYMOUS, "none", kind="anonymous")
        return
    caller = _caller(endpoint)
    services().auth.check_rate(caller, client_address())
    if not role_allows(caller.role, required):
        raise ForbiddenError(f"Requires the {required} role")
    g.principal = caller


def install(app: Flask) -> None:
    app.before_request(check_access)


def bootstrap_admin(app: Flask) -> None:
    """Create (or refresh) the bootstrap admin now, or at the first login when Redis is not up yet."""
    try:
        app.extensions["jobline"].auth.users.bootstrap_admin()
    except RedisError as e:
        log.warning("Redis unreachable at start (%s); the admin user is checked at the first login", e)
