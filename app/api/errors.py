"""One table from exception to HTTP status and contract code; every error body is {error, code, details?}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from app.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    JoblineError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from app.store.connection import redis_problem

log = logging.getLogger(__name__)
RETRY_AFTER_S = 2

ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    (InvalidError, 400, "VALIDATION_ERROR"),
    (UnauthorizedError, 401, "UNAUTHORIZED"),
    (ForbiddenError, 403, "FORBIDDEN"),
    (NotFoundError, 404, "NOT_FOUND"),
    (ConflictError, 409, "CONFLICT"),
    (RateLimitedError, 429, "RATE_LIMITED"),
    (UnavailableError, 503, "UNAVAILABLE"),
]

HTTP_CODES = {
    400: ("VALIDATION_ERROR", "Invalid request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    409: ("CONFLICT", "Conflict"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"),
    429: ("RATE_LIMITED", "Too many requests"),
    503: ("UNAVAILABLE", "Service unavailable"),
}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"error": message, "code": code}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    if status in (429, 503):
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _jobline(e: JoblineError) -> Response:
    for cls, status, code in ERROR_TABLE:
        if isinstance(e, cls):
            response = error_response(status, code, e.message, e.details)
            if isinstance(e, RateLimitedError):
                response.headers["Retry-After"] = str(e.retry_after_s)
            return response
    return _unexpected(e)


def _validation(e: ValidationError) -> Response:
    messages = e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}
    return error_response(400, "VALIDATION_ERROR", "Invalid request", messages)


def _http(e: HTTPException) -> Response:
    status = e.code or 500
    code, message = HTTP_CODES.get(status, ("INTERNAL", "Internal error"))
    response = error_response(status, code, message)
    if status == 405 and e.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(e.valid_methods)  # type: ignore[attr-defined]
    return response


def _redis(e: RedisError) -> Response:
    problem = redis_problem(e)
    if problem is None:
        return _unexpected(e)
    log.warning("Redis unavailable: %s (%s)", problem, type(e).__name__)
    details = {"health": {"status": "unhealthy", "problems": [problem]}}
    return error_response(503, "UNAVAILABLE", f"{problem}; try again shortly", details)


def _unexpected(e: Exception) -> Response:
    log.exception("unexpected error: %s", type(e).__name__)
    return error_response(500, "INTERNAL", "Internal error")


def _recursion(e: RecursionError) -> Response:
    return error_response(400, "VALIDATION_ERROR", "Malformed JSON", {"body": ["Nested too deeply."]})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(JoblineError, _jobline)
    app.register_error_handler(ValidationError, _validation)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(RedisError, _redis)
    app.register_error_handler(RecursionError, _recursion)
    app.register_error_handler(Exception, _unexpected)
