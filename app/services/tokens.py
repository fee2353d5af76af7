"""API tokens for machines: created with a role and an optional queue scope, shown once, stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from app.errors import ConflictError, InvalidError, NotFoundError, UnauthorizedError
from app.models import ROLES, ApiToken, Principal
from app.settings import QUEUE_NAME_RE
from app.store.readahead import ReadAhead
from app.store.tokens import TokenStore

log = logging.getLogger(__name__)
TOKEN_PREFIX = "jlt_"
TOKEN_RE = re.compile(r"^jlt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
SCOPED_ROLES = ("viewer", "operator")
MAX_SCOPE_QUEUES = 100
BAD_TOKEN = "Invalid or expired token"


def hash_secret(raw: str) -> str:
    """SHA-256 of the whole token: 256 random bits need no slow hash, and lookups stay O(1)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def is_api_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def _check_scope(role: str, queues: list[str] | None) -> tuple[str, ...] | None:
    if queues is None:
        return None
    errors = [f"Invalid queue name {q!r}." for q in queues if not QUEUE_NAME_RE.match(q)]
    if not queues or len(queues) > MAX_SCOPE_QUEUES:
        errors.append(f"Give 1 to {MAX_SCOPE_QUEUES} queues, or leave queues out for all queues.")
    if role not in SCOPED_ROLES:
        # an admin token could manage users and tokens, which no queue scope can contain
        errors.append("A token scoped to queues may be viewer or operator, not admin.")
    if errors:
        raise InvalidError("Invalid request", {"queues": errors})
    return tuple(dict.fromkeys(queues))


class TokenService:
    """Rules about API tokens; `resolve` turns a presented token into the Principal it stands for."""

    def __init__(self, store: TokenStore, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))

    def create(
        self,
        name: str,
        role: str,
        queues: list[str] | None = None,
        rate_limit_per_min: int | None = None,
        created_by: str = "",
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (the only time the secret exists outside the caller's hands)."""
        if not NAME_RE.match(name):
            raise InvalidError(
                "Invalid request", {"name": ["Must match ^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$."]}
            )
        if role not in ROLES:
            raise InvalidError("Invalid request", {"role": [f"Must be one of: {', '.join(ROLES)}."]})
        scope = _check_scope(role, queues)
        token_id = secrets.token_hex(8)
        raw = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        token = ApiToken(
            token_id, name, role, scope, self.clock(), created_by, rate_limit_per_min, hash_secret(raw)
        )
        if not self.store.create(token):
            raise ConflictError(f"A token named {name!r} already exists")
        log.info("API token %s (%r, %s) created by %s", token_id, name, role, created_by or "?")
        return token, raw

    def list(self) -> list[ApiToken]:
        return self.store.list()

    def get(self, token_id: str) -> ApiToken:
        token = self.store.find(token_id) if re.fullmatch(r"[0-9a-f]{16}", token_id) else None
        if token is None:
            raise NotFoundError("Token not found")
        return token

    def revoke(self, token_id: str) -> None:
        token = self.get(token_id)
        self.store.delete(token)
        log.info("API token %s (%r) revoked", token.id, token.name)

    def resolve(self, raw: str, riders: Sequence[ReadAhead[Any]] = ()) -> Principal:
        """The principal of a presented API token; UnauthorizedError when unknown, malformed or revoked.

        `riders` are read in the same round trip as the token (when it is well-formed)."""
        match = TOKEN_RE.match(raw)
        token = self.store.find(match.group(1), riders) if match else None
        presented = hash_secret(raw)
        stored = token.secret_hash if token is not None else "0" * 64
        if not hmac.compare_digest(presented, stored) or token is None:
            raise UnauthorizedError(BAD_TOKEN)
        return Principal(
            name=token.name,
            role=token.role,
            kind="token",
            queues=token.queues,
            rate_limit_per_min=token.rate_limit_per_min,
            key=f"token:{token.id}",
        )
