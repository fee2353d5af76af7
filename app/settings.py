"""Settings built once from the environment: the only reader of os.environ."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from app.errors import ConfigError

QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEV_SECRET = "jobline-dev-secret-change-me"
MIN_SECRET_LEN = 32
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(name: str, raw: str, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _delays(name: str, raw: str) -> tuple[float, ...]:
    values = tuple(_float(name, part, 0, 86400) for part in _csv(raw))
    if not values:
        raise ConfigError(f"{name} needs at least one delay, e.g. 0,10,60")
    return values


def _queues(name: str, raw: str) -> tuple[str, ...]:
    names = _csv(raw)
    for queue in names:
        if not QUEUE_NAME_RE.match(queue):
            raise ConfigError(f"{name}: invalid queue name {queue!r}")
    return names


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _redis_url(name: str, raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("redis://", "rediss://", "unix://")):
        # the value is not echoed: it may hold a password
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix://")
    return value


def _env(
    var: str,
    default: Any,
    parse: Callable[[str, str], Any] | None = None,
    doc: str = "",
    secret: bool = False,
) -> Any:
    # secret=True keeps the value out of repr(), so a logged Settings never shows it
    return field(default=default, repr=not secret, metadata={"env": var, "parse": parse, "doc": doc})


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = _csv(raw)
    for origin in origins:
        if origin != "*" and not ORIGIN_RE.match(origin):
            raise ConfigError(f"{name}: {origin!r} is not an origin like https://jobs.example.com or *")
    return origins


def _ints(lo: int, hi: int) -> Callable[[str, str], int]:
    return lambda name, raw: _int(name, raw, lo, hi)


def _floats(lo: float, hi: float) -> Callable[[str, str], float]:
    return lambda name, raw: _float(name, raw, lo, hi)


@dataclass(frozen=True)
class Settings:
    """Everything Jobline reads from its environment, parsed and checked once at start."""

    redis_url: str = _env(
        "REDIS_URL",
        "",
        _redis_url,
        "Redis URL (`redis://`, `rediss://`, with credentials); unset: `jobline dev` starts a private Redis",
        secret=True,
    )
    env: str = _env(
        "JOBLINE_ENV",
        "development",
        _choice("development", "production"),
        "`production` refuses a default secret key and requires an admin password",
    )
    task_modules: tuple[str, ...] = _env(
        "JOBLINE_TASK_MODULES",
        (),
        lambda n, r: _csv(r),
        "comma-separated modules that define tasks with `@task`",
    )
    queues: tuple[str, ...] = _env(
        "JOBLINE_QUEUES",
        ("default",),
        _queues,
        "queues always listed, and the ones a worker serves by default",
    )
    retry_delays_s: tuple[float, ...] = _env(
        "JOBLINE_RETRY_DELAYS",
        (0.0, 10.0, 60.0),
        _delays,
        "seconds before retry 1, 2, 3, ...; the last repeats",
    )
    default_timeout_s: int = _env(
        "JOBLINE_DEFAULT_TIMEOUT", 30, _ints(1, 3600), "job timeout in seconds when a submit gives none"
    )
    max_body_bytes: int = _env(
        "JOBLINE_MAX_BODY", 1 << 20, _ints(1024, 1 << 30), "largest request body in bytes (413 above)"
    )
    max_result_bytes: int = _env(
        "JOBLINE_MAX_RESULT",
        1 << 20,
        _ints(1024, 64 << 20),
        "largest JSON result a task may return, in bytes",
    )
    keep_completed: int = _env(
        "JOBLINE_KEEP_COMPLETED", 1000, _ints(0, 10**8), "completed jobs kept per queue"
    )
    keep_failed: int = _env("JOBLINE_KEEP_FAILED", 5000, _ints(0, 10**8), "failed jobs kept per queue")
    keep_canceled: int = _env("JOBLINE_KEEP_CANCELED", 1000, _ints(0, 10**8), "canceled jobs kept per queue")
    result_ttl_s: int = _env(
        "JOBLINE_RESULT_TTL", 7 * 86400, _ints(1, 10**9), "seconds a finished job is kept at most"
    )
    wait_alert_s: float = _env(
        "JOBLINE_WAIT_ALERT",
        300.0,
        _floats(1, 10**7),
        "stats health is `degraded` when a pending job has waited longer than this, in seconds",
    )
    heartbeat_s: float = _env(
        "JOBLINE_HEARTBEAT", 5.0, _floats(0.2, 60), "seconds between a worker's heartbeats"
    )
    lease_s: float = _env(
        "JOBLINE_LEASE",
        30.0,
        _floats(1, 600),
        "seconds without heartbeat after which a running job counts as abandoned",
    )
    shutdown_grace_s: float = _env(
        "JOBLINE_SHUTDOWN_GRACE",
        25.0,
        _floats(0, 3600),
        "on SIGTERM, seconds a worker lets its job finish before requeueing it",
    )
    child_max_jobs: int = _env(
        "JOBLINE_CHILD_MAX_JOBS",
        0,
        _ints(0, 10**9),
        "replace a worker's child process after this many jobs (0: never)",
    )
    admin_password: str = _env(
        "JOBLINE_ADMIN_PASSWORD",
        "",
        None,
        "password of the `admin` user (dev generates one when unset)",
        secret=True,
    )
    secret_key: str = _env(
        "JOBLINE_SECRET_KEY",
        DEV_SECRET,
        None,
        "signs login tokens (production: 32+ random chars)",
        secret=True,
    )
    token_ttl_s: int = _env("JOBLINE_TOKEN_TTL", 12 * 3600, _ints(60, 10**7), "login token lifetime, seconds")
    redis_timeout_s: float = _env(
        "JOBLINE_REDIS_TIMEOUT",
        2.0,
        _floats(0.1, 60),
        "API socket timeout to Redis; past it requests answer 503",
    )
    log_level: str = _env(
        "JOBLINE_LOG_LEVEL",
        "info",
        _choice("debug", "info", "warning", "error"),
        "log level of every process: debug, info, warning or error",
    )
    api_workers: int = _env("JOBLINE_API_WORKERS", 2, _ints(1, 64), "gunicorn worker processes")
    api_threads: int = _env("JOBLINE_API_THREADS", 32, _ints(1, 10000), "threads per gunicorn worker")
    api_worker_class: str = _env(
        "JOBLINE_API_WORKER_CLASS",
        "gevent",
        _choice("gevent", "gthread"),
        "gunicorn worker class: gevent holds thousands of idle streams per process; gthread one thread each",
    )
    api_connections: int = _env(
        "JOBLINE_API_CONNECTIONS",
        4000,
        _ints(10, 100000),
        "most open client connections per API process, long polls and event streams included"
        " (gevent: as many streams again once taken over by the writer)",
    )
    redis_pool: int = _env(
        "JOBLINE_REDIS_POOL",
        64,
        _ints(2, 10000),
        "most Redis connections an API process opens for requests (more requests wait for one)",
    )
    sse_heartbeat_s: float = _env(
        "JOBLINE_SSE_HEARTBEAT",
        15.0,
        _floats(0.05, 300),
        "seconds of silence before an event stream sends a keep-alive comment",
    )
    log_lines: int = _env(
        "JOBLINE_LOG_LINES", 1000, _ints(0, 1000000), "log lines kept per job, the newest (0: capture none)"
    )
    log_line_chars: int = _env(
        "JOBLINE_LOG_LINE_CHARS", 4000, _ints(80, 1000000), "longest captured log line; longer ones are cut"
    )
    anonymous_role: str = _env(
        "JOBLINE_ANONYMOUS_ROLE",
        "none",
        _choice("none", "viewer", "operator"),
        "role of requests without a token (trusted networks only)",
    )
    login_rate_per_min: int = _env(
        "JOBLINE_LOGIN_RATE",
        10,
        _ints(0, 10**6),
        "failed logins per minute per login name and per client address (0: no limit)",
    )
    rate_limit_per_min: int = _env(
        "JOBLINE_RATE_LIMIT",
        0,
        _ints(0, 10**7),
        "API requests per minute per user, token or anonymous address (0: none; tokens may set their own)",
    )
    cors_origins: tuple[str, ...] = _env(
        "JOBLINE_CORS_ORIGINS",
        (),
        _origins,
        "origins allowed to call the API from a browser (comma-separated, or `*`); unset: CORS off",
    )
    proxy_hops: int = _env(
        "JOBLINE_PROXY_HOPS",
        0,
        _ints(0, 10),
        "reverse proxies in front of the API whose X-Forwarded-For/-Proto to trust (0: none)",
    )

    @classmethod
    def load(cls) -> Settings:
        """Settings of this process, from os.environ."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; bad values raise ConfigError naming the variable."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            var, parse = f.metadata["env"], f.metadata["parse"]
            raw = environ.get(var)
            if raw is None or raw == "":
                continue
            values[f.name] = parse(var, raw) if parse else raw
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that would make the system unsafe or stuck."""
        if self.lease_s <= self.heartbeat_s * 2:
            raise ConfigError("JOBLINE_LEASE must be more than twice JOBLINE_HEARTBEAT")
        if self.env == "production" and self.secret_key in ("", DEV_SECRET):
            raise ConfigError("JOBLINE_SECRET_KEY must be set to a long random value in production")
        if self.env == "production" and len(self.secret_key) < MIN_SECRET_LEN:
            raise ConfigError(
                f"JOBLINE_SECRET_KEY must be at least {MIN_SECRET_LEN} characters in production "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env == "production" and not self.admin_password:
            raise ConfigError("JOBLINE_ADMIN_PASSWORD must be set in production")

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests, CLI flags)."""
        return replace(self, **changes)

    def retry_delay_s(self, retry_number: int) -> float:
        """Delay before retry `retry_number` (1-based); the last delay repeats."""
        index = min(max(retry_number, 1), len(self.retry_delays_s)) - 1
        return self.retry_delays_s[index]

    def keep_for(self, status: str) -> int:
        """How many terminal jobs of `status` a queue keeps."""
        return {"completed": self.keep_completed, "failed": self.keep_failed}.get(status, self.keep_canceled)


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README's configuration table."""
    return [(f.metadata["env"], repr(f.default), f.metadata["doc"]) for f in fields(Settings)]
