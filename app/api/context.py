"""Request helpers for views: the app's services, the caller, and the JSON body and query, parsed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from marshmallow import Schema
from werkzeug.exceptions import UnsupportedMediaType

from app.errors import InvalidError
from app.models import Principal
from app.services.auth import AuthService
from app.services.jobs import JobService
from app.settings import Settings


@dataclass
class Services:
    """Per-app state kept in app.extensions['jobline']."""

    settings: Settings
    redis: Any
    jobs: JobService
    auth: AuthService
    extra: dict[str, Any]


def services() -> Services:
    return current_app.extensions["jobline"]


def principal() -> Principal:
    return g.principal


MAX_JSON_DEPTH = 64  # deeper bodies are refused, whatever the stack depth of the thread parsing them


def _too_deep(value: Any, limit: int) -> bool:
    """True when containers nest deeper than `limit` (walked iteratively: nothing to overflow)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def json_body() -> dict[str, Any]:
    """The request's JSON object ({} when there is no body); 400 when malformed, 415 when not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if request.mimetype and not (
        request.mimetype == "application/json" or request.mimetype.endswith("+json")
    ):
        raise UnsupportedMediaType()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidError("Malformed JSON", {"body": ["The body is not valid JSON."]}) from None
    if not isinstance(body, dict):
        raise InvalidError("Invalid request", {"body": ["Must be a JSON object."]})
    if _too_deep(body, MAX_JSON_DEPTH):
        raise InvalidError("Malformed JSON", {"body": [f"Nested deeper than {MAX_JSON_DEPTH} levels."]})
    return body


def load_body(schema: Schema) -> dict[str, Any]:
    return schema.load(json_body())


def load_query(schema: Schema) -> dict[str, Any]:
    """Parse query parameters; a parameter given twice is an error, unknown ones too."""
    args: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            raise InvalidError("Invalid request", {key: ["Given more than once."]})
        args[key] = values[0]
    return schema.load(args)
