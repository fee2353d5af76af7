"""The auth hook: before any view runs, find the caller and check the role the endpoint declares."""

from __future__ import annotations

import logging

from flask import Flask, g, request

from app.api.context import services
from app.api.permissions import PUBLIC, REQUIRED_ROLE
from app.errors import ForbiddenError, UnauthorizedError
from app.models import Principal
from app.services.auth import role_allows

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"


def _caller(required: str) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header:
        role = services().settings.anonymous_role
        if role != "none":
            return Principal(ANONYMOUS, role, kind="anonymous")
        raise UnauthorizedError("Authentication required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("Invalid token")
    return services().auth.principal_for(token.strip())


def check_access() -> None:
    """before_request: 401 without valid credentials, 403 when the role is below the endpoint's."""
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
    caller = _caller(required)
    if not role_allows(caller.role, required):
        raise ForbiddenError(f"Requires the {required} role")
    g.principal = caller


def install(app: Flask) -> None:
    app.before_request(check_access)
