"""Users in Redis: one hash per login plus the set of logins; writes are WATCH/MULTI transactions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline

from app import keys
from app.models import User
from app.store.readahead import ReadAhead, run_with


def _text(h: dict[bytes, bytes], name: str) -> str:
    value = h.get(name.encode())
    return value.decode() if value else ""


def _time(h: dict[bytes, bytes], name: str) -> datetime:
    raw = _text(h, name)
    try:
        return datetime.fromisoformat(raw) if raw else datetime.fromtimestamp(0, UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def decode_user(h: dict[bytes, bytes]) -> User | None:
    """The User of a raw hash; None for a hash that is not a complete user record."""
    login, role = _text(h, "login"), _text(h, "role")
    if not login or not role:
        return None
    return User(
        login=login,
        role=role,
        disabled=_text(h, "disabled") == "1",
        created_at=_time(h, "created_at"),
        updated_at=_time(h, "updated_at"),
        password_hash=_text(h, "pw"),
        stamp=_text(h, "stamp"),
    )


def encode_user(user: User) -> dict[str, str]:
    return {
        "login": user.login,
        "role": user.role,
        "disabled": "1" if user.disabled else "0",
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
        "pw": user.password_hash,
        "stamp": user.stamp,
    }


class UserStore:
    """The only code that reads and writes users, their revoked login tokens and the admin fingerprint."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def create(self, user: User) -> bool:
        """Write a new user; False (and nothing written) when the login exists."""
        created = False

        def write(pipe: Pipeline) -> None:
            nonlocal created
            created = False  # this runs again after a WatchError: an earlier try's True does not count
            if pipe.exists(keys.user(user.login)):
                return
            pipe.multi()
            pipe.hset(keys.user(user.login), mapping=encode_user(user))  # type: ignore[arg-type]
            pipe.sadd(keys.USERS, user.login)
            created = True

        self.redis.transaction(write, keys.user(user.login))
        return created

    def find(self, login: str) -> User | None:
        raw: dict[bytes, bytes] = self.redis.hgetall(keys.user(login))  # type: ignore[assignment]
        return decode_user(raw) if raw else None

    def find_session(
        self, login: str, jti: str, riders: Sequence[ReadAhead[Any]] = ()
    ) -> tuple[User | None, bool]:
        """(the user, whether the login token `jti` was logged out): one round trip, `riders` in it."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.user(login))
        pipe.exists(keys.revoked(jti))
        raw, revoked = run_with(pipe, riders)
        return (decode_user(raw) if raw else None), bool(revoked)

    def list(self) -> list[User]:
        logins = sorted(m.decode() for m in self.redis.smembers(keys.USERS))  # type: ignore[union-attr]
        pipe = self.redis.pipeline(transaction=False)
        for login in logins:
            pipe.hgetall(keys.user(login))
        users = [decode_user(raw) for raw in pipe.execute() if raw]
        return [u for u in users if u is not None]

    def update(self, login: str, changes: Callable[[User], dict[str, str]]) -> User | None:
        """Apply `changes(current)` (fields to set) atomically; None when the user does not exist."""
        result: User | None = None

        def write(pipe: Pipeline) -> None:
            nonlocal result
            raw: dict[bytes, bytes] = pipe.hgetall(keys.user(login))  # type: ignore[assignment]
            current = decode_user(raw) if raw else None
            if current is None:
                result = None
                return
            fields = changes(current)
            pipe.multi()
            pipe.hset(keys.user(login), mapping=fields)  # type: ignore[arg-type]
            result = decode_user({**raw, **{k.encode(): v.encode() for k, v in fields.items()}})

        self.redis.transaction(write, keys.user(login))
        return result

    def delete(self, login: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.user(login))
        pipe.srem(keys.USERS, login)
        deleted, _ = pipe.execute()
        return bool(deleted)

    def revoke_token(self, jti: str, ttl_s: int) -> None:
        """Remember a logged-out login token until it would have expired anyway."""
        self.redis.set(keys.revoked(jti), "1", ex=max(1, ttl_s))

    def field(self, login: str, name: str) -> str:
        value: Any = self.redis.hget(keys.user(login), name)
        return value.decode() if value else ""
