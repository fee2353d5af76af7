"""Who is calling: password login for users, signed expiring tokens, and the role ladder."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import UnauthorizedError
from app.models import Principal
from app.settings import Settings

ROLES = ("viewer", "operator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
ADMIN_LOGIN = "admin"
TOKEN_SALT = "jobline-login-v1"


def role_allows(role: str, required: str) -> bool:
    """True when `role` includes `required` (viewer < operator < admin)."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


@dataclass(frozen=True)
class LoginToken:
    token: str
    expires_at: datetime
    role: str


class AuthService:
    """Checks passwords and tokens. Users beyond the bootstrap admin come from a user store when given."""

    def __init__(
        self, settings: Settings, users: Any = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.users = users
        self.clock = clock or (lambda: datetime.now(UTC))
        self._signer = URLSafeTimedSerializer(settings.secret_key, salt=TOKEN_SALT)

    def login(self, login: str, password: str) -> LoginToken:
        principal = self._check_password(login, password)
        if principal is None:
            raise UnauthorizedError("Invalid login or password")
        return self.issue(principal)

    def _check_password(self, login: str, password: str) -> Principal | None:
        if self.users is not None:
            found = self.users.authenticate(login, password)
            if found is not None:
                return found
        admin = self.settings.admin_password
        same_login = hmac.compare_digest(login.encode(), ADMIN_LOGIN.encode())
        same_password = bool(admin) and hmac.compare_digest(password.encode(), admin.encode())
        return Principal(ADMIN_LOGIN, "admin") if same_login and same_password else None

    def issue(self, principal: Principal) -> LoginToken:
        token = self._signer.dumps({"sub": principal.name, "role": principal.role})
        expires = self.clock() + timedelta(seconds=self.settings.token_ttl_s)
        return LoginToken(token, expires, principal.role)

    def principal_for(self, token: str) -> Principal:
        """The principal a bearer token stands for; UnauthorizedError when bad, expired or revoked."""
        if self.users is not None and self.users.is_api_token(token):
            return self.users.principal_for_api_token(token)
        try:
            data = self._signer.loads(token, max_age=self.settings.token_ttl_s)
        except SignatureExpired:
            raise UnauthorizedError("Token expired") from None
        except BadSignature:
            raise UnauthorizedError("Invalid token") from None
        if not isinstance(data, dict) or data.get("role") not in ROLE_RANK:
            raise UnauthorizedError("Invalid token")
        if self.users is not None:
            return self.users.check_login_principal(data["sub"], data["role"])
        return Principal(str(data["sub"]), str(data["role"]))
