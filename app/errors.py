"""The JoblineError tree: domain failures without HTTP knowledge (the API maps them to status codes)."""

from __future__ import annotations

from typing import Any


class JoblineError(Exception):
    """Root of every error Jobline raises on purpose."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(JoblineError):
    """A setting in the environment is missing or malformed; raised at start."""


class InvalidError(JoblineError):
    """The request's data is malformed or out of range; `details` maps field to messages."""


class NotFoundError(JoblineError):
    """No such job, queue, workflow, user or route."""


class ConflictError(JoblineError):
    """The action does not fit the current state (cancel a completed job, retry a running one...)."""


class UnauthorizedError(JoblineError):
    """No credentials, bad or expired credentials."""


class ForbiddenError(JoblineError):
    """Authenticated, but the role may not do this."""


class RateLimitedError(JoblineError):
    """Too many requests; `retry_after_s` tells when to come back."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnavailableError(JoblineError):
    """Redis (or another dependency) cannot be reached right now."""


class UnknownTaskError(InvalidError):
    """A job names a task that is not registered."""
