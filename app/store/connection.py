"""Redis clients with timeouts that fit each process: short for the API (503 fast), longer for workers."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.errors import ConfigError
from app.settings import Settings


def connect(settings: Settings, *, blocking_s: float = 0.0, name: str = "jobline") -> Redis:
    """A client for `settings.redis_url`; `blocking_s` is the longest blocking call it will make."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set; set it, or run `jobline dev` to start a private Redis")
    timeout = settings.redis_timeout_s + blocking_s
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=timeout,
        socket_keepalive=True,
        health_check_interval=30,
        # No silent retries: a script whose reply was lost must not run twice (a second claim or submit).
        retry=Retry(NoBackoff(), 0),
        client_name=name,
    )


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***`, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable REDIS_URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
