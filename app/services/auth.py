"""Who is calling: password login, signed expiring login tokens with revocation, API tokens, rate limits."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from app.errors import ConflictError, RateLimitedError, UnauthorizedError
from app.models import ROLES, Principal, User
from app.services.tokens import BAD_TOKEN, TokenService, is_api_token
from app.services.users import ADMIN_LOGIN, UserService
from app.settings import Settings
from app.store.ratelimit import RateCounters
from app.store.readahead import ReadAhead

log = logging.getLogger(__name__)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
TOKEN_SALT = "jobline-login-v2"
RATE_WINDOW_MS = 60_000

__all__ = ["ADMIN_LOGIN", "ROLES", "AuthService", "LoginToken", "role_allows"]


def role_allows(role: str, required: str) -> bool:
    """True when `role` includes `required` (viewer < operator < admin)."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


@dataclass(frozen=True)
class LoginToken:
    token: str
    expires_at: datetime
    role: str


@dataclass(frozen=True)
class _Claims:
    """What a login token carries: who, the user's stamp when issued, its own id, and its expiry."""

    sub: str
    stamp: str
    jti: str
    exp: int

    @classmethod
    def parse(cls, data: Any) -> _Claims:
        if not isinstance(data, dict):
            raise UnauthorizedError(BAD_TOKEN)
        sub, stamp, jti, exp = (data.get(k) for k in ("sub", "st", "jti", "exp"))
        if not (isinstance(sub, str) and isinstance(stamp, str) and isinstance(jti, str)):
            raise UnauthorizedError(BAD_TOKEN)
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise UnauthorizedError(BAD_TOKEN)
        return cls(sub, stamp, jti, exp)


class AuthService:
    """Checks passwords and tokens; holds the user and token services the API's admin endpoints use."""

    def __init__(
        self,
        settings: Settings,
        users: UserService,
        tokens: TokenService,
        counters: RateCounters,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.users = users
        self.tokens = tokens
        self.counters = counters
        self.clock = clock or (lambda: datetime.now(UTC))
        self._signer = URLSafeSerializer(
            settings.secret_key, salt=TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    # --- login tokens -------------------------------------------------------------------------------
    def login(self, login: str, password: str, address: str = "") -> LoginToken:
        """A login token for a correct password; 401 otherwise, 429 past JOBLINE_LOGIN_RATE."""
        self.users.ensure_bootstrapped()
        self._limit_logins(login, address)
        user = self.users.authenticate(login, password)
        if user is None:
            log.info("login refused for %r from %s", login, address or "?")
            raise UnauthorizedError("Invalid login or password")
        if self.settings.login_rate_per_min:
            # only failures count in the end: busy NATs of legitimate users never hit the limit
            self.counters.reset("login", login)
            self.counters.refund("addr", address or "-")
        return self.issue(user)

    def issue(self, user: User) -> LoginToken:
        now = self.clock()
        expires = now + timedelta(seconds=self.settings.token_ttl_s)
        claims = {
            "sub": user.login,
            "st": user.stamp,
            "jti": secrets.token_hex(8),
            "exp": int(expires.timestamp()),
        }
        return LoginToken(self._signer.dumps(claims), expires, user.role)

    def _claims(self, token: str) -> _Claims:
        try:
            claims = _Claims.parse(self._signer.loads(token))
        except BadSignature:
            raise UnauthorizedError(BAD_TOKEN) from None
        if claims.exp <= self.clock().timestamp():
            raise UnauthorizedError(BAD_TOKEN)
        return claims

    def principal_for(self, token: str, riders: Sequence[ReadAhead[Any]] = ()) -> Principal:
        """The principal a bearer token stands for; UnauthorizedError when bad, expired or revoked.

        `riders` (the request's own first read) go in the lookup's round trip; they are only read when
        the token's signature and expiry are good."""
        if is_api_token(token):
            return self.tokens.resolve(token, riders)
        claims = self._claims(token)
        self.users.ensure_bootstrapped()  # a changed admin password must revoke before the first check
        user, logged_out = self.users.store.find_session(claims.sub, claims.jti, riders)
        if user is None or user.disabled or logged_out or not hmac.compare_digest(user.stamp, claims.stamp):
            raise UnauthorizedError(BAD_TOKEN)
        return Principal(user.login, user.role, kind="user", key=f"user:{user.login}")

    def logout(self, token: str) -> None:
        """Revoke this one login token at once (other sessions of the user stay)."""
        if is_api_token(token):
            raise ConflictError("API tokens are revoked with DELETE /api/v1/tokens/{id}")
        claims = self._claims(token)
        self.users.store.revoke_token(claims.jti, math.ceil(claims.exp - self.clock().timestamp()))

    # --- rate limits --------------------------------------------------------------------------------
    def _limit_logins(self, login: str, address: str) -> None:
        limit = self.settings.login_rate_per_min
        if limit <= 0:
            return
        windows = self.counters.hit([("login", login), ("addr", address or "-")], RATE_WINDOW_MS)
        over = [w for w in windows if w.count > limit]
        if over:
            wait_s = max(math.ceil(w.reset_ms / 1000) for w in over)
            log.warning("login rate limit hit for %r from %s", login, address or "?")
            raise RateLimitedError("Too many login attempts; try again later", max(1, wait_s))

    def check_rate(self, principal: Principal, address: str = "") -> None:
        """429 past the caller's requests-per-minute limit (its token's own, else JOBLINE_RATE_LIMIT)."""
        limit = principal.rate_limit_per_min
        if limit is None:
            limit = self.settings.rate_limit_per_min
        if limit <= 0:
            return
        ident = principal.key or f"addr:{address or '-'}"
        (window,) = self.counters.hit([("p", ident)], RATE_WINDOW_MS)
        if window.count > limit:
            raise RateLimitedError(
                f"Rate limit of {limit} requests per minute exceeded",
                max(1, math.ceil(window.reset_ms / 1000)),
            )
