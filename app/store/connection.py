"""Redis clients with timeouts that fit each process: short for the API (503 fast), longer for workers."""

from __future__ import annotations

import select
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ClusterDownError,
    ExecAbortError,
    MasterDownError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.retry import Retry

from app.errors import ConfigError
from app.settings import Settings

POOL_READ_BUFFER = 16 * 1024
POOL_WAIT_S = 10.0  # longest wait for a free pooled connection; an unreachable Redis fails at connect


def connect(
    settings: Settings, *, blocking_s: float = 0.0, name: str = "jobline", pool_size: int | None = None
) -> Redis:
    """A client for `settings.redis_url`; `blocking_s` is the longest blocking call it will make.

    With `pool_size`, at most that many connections are opened; callers beyond wait for a free one (an
    API process under gevent may have thousands of requests in flight, e.g. every EventSource of a
    restarted process reconnecting at once): up to POOL_WAIT_S, since a 503 ends an EventSource for good.
    """
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set; set it, or run `jobline dev` to start a private Redis")
    timeout = settings.redis_timeout_s + blocking_s
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_timeout_s,
        "socket_timeout": timeout,
        "socket_keepalive": True,
        "health_check_interval": 30,
        # No silent retries: a script whose reply was lost must not run twice (a second claim or submit).
        "retry": Retry(NoBackoff(), 0),
        "client_name": name,
    }
    if pool_size is None:
        return Redis.from_url(settings.redis_url, **options)
    # Each connection's reply parser owns a read buffer of this size: redis-py's 64 KB default would hold
    # 4 MB in a full pool of 64; replies larger than 16 KB (a page of jobs) just take a few reads.
    options["socket_read_size"] = POOL_READ_BUFFER
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=pool_size, timeout=max(POOL_WAIT_S, timeout), **options
    )
    client = Redis(connection_pool=pool)  # the pool's retry policy applies (none)
    client.auto_close_connection_pool = True
    return client


def non_yielding_checks() -> bool:
    """Under gevent, let redis-py check a pooled connection with the system's poll(0), which never waits.

    Before each command redis-py's pool checks that the connection it hands out holds no stray data (a
    dirty or closed one is reopened). gevent's patched `select.poll` parks the greenlet until the event
    loop's next turn even for a zero timeout: every command would wait once more behind all other ready
    work before it is even sent, and pay for the watchers and the timer. The check cannot block, so the
    unpatched poll does it; checks that may wait (a timeout) keep gevent's. True when applied: redis-py's
    hiredis parser has the hook this relies on (redis-py 8), and it was not applied already.
    """
    from gevent import monkey
    from redis._parsers import hiredis

    check = getattr(hiredis, "_socket_can_read", None)
    if check is None or getattr(check, "non_yielding", False):
        return False
    system_poll = monkey.get_original("select", "poll")

    def can_read(sock: Any, timeout: float | None) -> bool:
        if timeout != 0 or (hasattr(sock, "pending") and sock.pending()):
            return bool(check(sock, timeout))  # a wait, or TLS bytes already decrypted: as redis-py does
        poller = system_poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

    can_read.non_yielding = True  # type: ignore[attr-defined]
    hiredis._socket_can_read = can_read
    return True


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


def config_advice(redis: Redis) -> list[str]:
    """What in this Redis's configuration puts jobs or memory at risk, one sentence each with the fix.

    Empty when all is well or when CONFIG is not allowed (managed Redis often forbids it)."""
    pipe = redis.pipeline(transaction=False)
    for pattern in ("maxmemory-policy", "hash-max-*-value", "appendonly", "save"):
        pipe.config_get(pattern)
    try:
        config = {k: v for reply in pipe.execute() for k, v in reply.items()}
    except RedisError:
        return []
    advice = []
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        advice.append(
            f"Redis evicts keys when full (maxmemory-policy {policy}): it may silently delete jobs and "
            "queues; set `maxmemory-policy noeviction` so that a full Redis refuses writes instead"
        )
    value = str(config.get("hash-max-listpack-value") or config.get("hash-max-ziplist-value") or "8192")
    if value.isdigit() and int(value) < 1024:
        advice.append(
            f"hash-max-listpack-value is {value}: a failed job's hash (with its traceback) takes ~2.3 KB "
            "instead of ~1.3 KB; set `hash-max-listpack-value 8192` (docs/queues.md)"
        )
    if config.get("appendonly") == "no" and not config.get("save"):
        advice.append(
            "Redis keeps nothing on disk (appendonly no, no save points): a Redis restart loses every "
            "job; set `appendonly yes` for production"
        )
    return advice


# Error replies of a Redis that answers but cannot serve now: 503 with what is wrong, never a 500.
REFUSALS = {
    "OOM": "Redis is full (maxmemory reached) and refuses new data; nothing was written",
    "MISCONF": "Redis cannot save to disk and refuses writes (MISCONF); see the Redis log",
    "READONLY": "Redis is a read-only replica; point REDIS_URL at the primary",
    "LOADING": "Redis is loading its data set",
    "BUSY": "Redis is busy running a long script",
    "NOREPLICAS": "Redis has too few replicas to accept writes",
    "MASTERDOWN": "Redis lost its primary",
    "EXECABORT": "Redis refused a transaction",
    "NOAUTH": "Redis refused Jobline's credentials; check REDIS_URL",
    "WRONGPASS": "Redis refused Jobline's credentials; check REDIS_URL",
    "NOPERM": "Redis's ACL forbids a command Jobline needs; see docs/security.md",
}
REFUSAL_CLASSES = (
    (AuthenticationError, "NOAUTH"),
    (OutOfMemoryError, "OOM"),
    (ReadOnlyError, "READONLY"),
    (BusyLoadingError, "LOADING"),
    (NoPermissionError, "NOPERM"),
    (ExecAbortError, "EXECABORT"),
    (MasterDownError, "MASTERDOWN"),
    (TryAgainError, "BUSY"),
    (ClusterDownError, "MASTERDOWN"),
)
UNREACHABLE = "Redis is unreachable"


def redis_problem(e: RedisError) -> str | None:
    """What is wrong with Redis in words an operator can act on (never its address or password); None
    for an error reply that is not about Redis's state, i.e. a bug in a command or script of ours."""
    for cls, word in REFUSAL_CLASSES:  # redis-py strips these words off the message into a class
        if isinstance(e, cls):
            return REFUSALS[word]
    if not isinstance(e, ResponseError):
        return UNREACHABLE  # connection refused or reset, timeouts
    return REFUSALS.get(str(e).split(" ", 1)[0])
