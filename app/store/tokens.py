"""API tokens in Redis: one hash per token id, and the index of names (unique) to ids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from app import keys
from app.models import ApiToken
from app.store.readahead import ReadAhead, run_with


def _text(h: dict[bytes, bytes], name: str) -> str:
    value = h.get(name.encode())
    return value.decode() if value else ""


def decode_token(h: dict[bytes, bytes]) -> ApiToken | None:
    """The ApiToken of a raw hash; None for an incomplete record."""
    token_id, name, role, secret_hash = (_text(h, f) for f in ("id", "name", "role", "sha256"))
    if not (token_id and name and role and secret_hash):
        return None
    queues_raw = _text(h, "queues")
    queues = tuple(json.loads(queues_raw)) if queues_raw else None
    rate = _text(h, "rate")
    try:
        created = datetime.fromisoformat(_text(h, "created_at"))
    except ValueError:
        created = datetime.fromtimestamp(0, UTC)
    return ApiToken(
        id=token_id,
        name=name,
        role=role,
        queues=queues,
        created_at=created,
        created_by=_text(h, "created_by"),
        rate_limit_per_min=int(rate) if rate else None,
        secret_hash=secret_hash,
    )


def encode_token(token: ApiToken) -> dict[str, str]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "queues": json.dumps(list(token.queues)) if token.queues is not None else "",
        "created_at": token.created_at.isoformat(),
        "created_by": token.created_by,
        "rate": "" if token.rate_limit_per_min is None else str(token.rate_limit_per_min),
        "sha256": token.secret_hash,
    }


class TokenStore:
    """The only code that reads and writes API tokens."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def create(self, token: ApiToken) -> bool:
        """Claim the name (HSETNX) and write the token; False when the name is taken."""
        if not self.redis.hsetnx(keys.TOKENS, token.name, token.id):
            return False
        self.redis.hset(keys.token(token.id), mapping=encode_token(token))  # type: ignore[arg-type]
        return True

    def find(self, token_id: str, riders: Sequence[ReadAhead[Any]] = ()) -> ApiToken | None:
        """The token; `riders` go in the same round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.token(token_id))
        (raw,) = run_with(pipe, riders)
        return decode_token(raw) if raw else None

    def list(self) -> list[ApiToken]:
        index: dict[bytes, bytes] = self.redis.hgetall(keys.TOKENS)  # type: ignore[assignment]
        ids = [index[name].decode() for name in sorted(index)]
        pipe = self.redis.pipeline(transaction=False)
        for token_id in ids:
            pipe.hgetall(keys.token(token_id))
        tokens = [decode_token(raw) for raw in pipe.execute() if raw]
        return [t for t in tokens if t is not None]

    def delete(self, token: ApiToken) -> bool:
        """Remove the token at once (its next use is refused) and free its name."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.token(token.id))
        pipe.hdel(keys.TOKENS, token.name)  # names are unique: only this token holds it
        deleted, _ = pipe.execute()
        return bool(deleted)
