"""Users: create, change, disable and delete; passwords as salted scrypt hashes; the bootstrap admin."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ConflictError, InvalidError, NotFoundError
from app.models import ROLES, User
from app.settings import Settings
from app.store.users import UserStore

log = logging.getLogger(__name__)
ADMIN_LOGIN = "admin"
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LEN = 8
MAX_PASSWORD_LEN = 1024
# werkzeug's scrypt (N=2^15, r=8, p=1: 32 MiB and ~0.1 s per check here), salted; parameters live in the hash
PASSWORD_METHOD = "scrypt"
# Each scrypt check takes 32 MiB: with 32 gunicorn threads a login flood could take 1 GiB. At most
# this many run at once per process; the others wait their turn.
_HASHING = threading.BoundedSemaphore(4)


def hash_password(password: str) -> str:
    with _HASHING:
        return generate_password_hash(password, method=PASSWORD_METHOD)


def verify_password(password_hash: str, password: str) -> bool:
    with _HASHING:
        return check_password_hash(password_hash, password)


@cache
def _dummy_hash() -> str:
    """A hash to check against when the login is unknown, so that case takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def new_stamp() -> str:
    return secrets.token_hex(8)


def check_login_name(login: str) -> None:
    if not LOGIN_RE.match(login):
        raise InvalidError("Invalid request", {"login": ["Must match ^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$."]})


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidError("Invalid request", {"role": [f"Must be one of: {', '.join(ROLES)}."]})


def check_password(password: str) -> None:
    if not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
        raise InvalidError(
            "Invalid request",
            {"password": [f"Must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long."]},
        )


class UserService:
    """Rules about users; the API's /users endpoints and `jobline users` both come through here."""

    def __init__(
        self, settings: Settings, store: UserStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self._bootstrapped = False

    # --- passwords --------------------------------------------------------------------------------
    def authenticate(self, login: str, password: str) -> User | None:
        """The enabled user with this login and password; None otherwise (in about the same time)."""
        user = self.store.find(login) if LOGIN_RE.match(login) else None
        if login == ADMIN_LOGIN and self.settings.admin_password:
            # the bootstrap admin's password is the environment's, compared in constant time
            ok = hmac.compare_digest(password.encode(), self.settings.admin_password.encode())
        elif user is not None and user.password_hash:
            ok = verify_password(user.password_hash, password)
        else:
            verify_password(_dummy_hash(), password)
            ok = False
        if not ok or user is None or user.disabled:
            return None
        return user

    def _admin_fingerprint(self) -> str:
        """Tells whether JOBLINE_ADMIN_PASSWORD changed since the last start, without storing it."""
        message = b"jobline-admin-password:" + self.settings.admin_password.encode()
        return hmac.new(self.settings.secret_key.encode(), message, hashlib.sha256).hexdigest()

    def ensure_bootstrapped(self) -> None:
        """Run bootstrap_admin once per process (again later if Redis was down the first time)."""
        if not self._bootstrapped:
            self.bootstrap_admin()

    def bootstrap_admin(self) -> None:
        """Make sure `admin` exists when JOBLINE_ADMIN_PASSWORD is set; a changed password logs it out."""
        if not self.settings.admin_password:
            self._bootstrapped = True
            return
        now = self.clock()
        admin = User(ADMIN_LOGIN, "admin", False, now, now, stamp=new_stamp())
        if self.store.create(admin):
            log.info("created the bootstrap user %r from JOBLINE_ADMIN_PASSWORD", ADMIN_LOGIN)
        fingerprint = self._admin_fingerprint()
        if not hmac.compare_digest(self.store.field(ADMIN_LOGIN, "envfp"), fingerprint):
            self.store.update(ADMIN_LOGIN, lambda u: {"envfp": fingerprint, "stamp": new_stamp()})
            log.info("JOBLINE_ADMIN_PASSWORD is new or changed: earlier admin login tokens are revoked")
        self._bootstrapped = True

    # --- management ---------------------------------------------------------------------------------
    def create(self, login: str, password: str, role: str) -> User:
        check_login_name(login)
        check_role(role)
        check_password(password)
        now = self.clock()
        user = User(login, role, False, now, now, hash_password(password), new_stamp())
        if not self.store.create(user):
            raise ConflictError(f"User {login!r} already exists")
        log.info("user %r created with role %s", login, role)
        return user

    def list(self) -> list[User]:
        return self.store.list()

    def get(self, login: str) -> User:
        user = self.store.find(login) if LOGIN_RE.match(login) else None
        if user is None:
            raise NotFoundError("User not found")
        return user

    def update(
        self,
        login: str,
        password: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user; a new password or disabling revokes every login token they hold, at once."""
        current = self.get(login)
        fields: dict[str, str] = {"updated_at": self.clock().isoformat()}
        if password is not None:
            self._check_password_change(login, password)
            fields["pw"] = hash_password(password)
            fields["stamp"] = new_stamp()
        if role is not None:
            check_role(role)
            fields["role"] = role
        if disabled is not None:
            fields["disabled"] = "1" if disabled else "0"
            if disabled:
                fields["stamp"] = new_stamp()
        if current.role == "admin" and (role not in (None, "admin") or disabled):
            self._keep_an_admin(login)
        updated = self.store.update(login, lambda u: fields)
        if updated is None:
            raise NotFoundError("User not found")
        log.info("user %r updated (%s)", login, ", ".join(sorted(k for k in fields if k != "updated_at")))
        return updated

    def _check_password_change(self, login: str, password: str) -> None:
        check_password(password)
        if login == ADMIN_LOGIN and self.settings.admin_password:
            raise ConflictError(
                "The admin password is set by JOBLINE_ADMIN_PASSWORD; change it there and restart"
            )

    def _keep_an_admin(self, leaving: str) -> None:
        """Refuse a change that would leave no enabled admin (nobody could manage users any more)."""
        others = [u for u in self.store.list() if u.role == "admin" and not u.disabled and u.login != leaving]
        if not others:
            raise ConflictError("This is the last enabled admin; create or enable another admin first")

    def delete(self, login: str) -> None:
        current = self.get(login)
        if current.role == "admin":
            self._keep_an_admin(login)
        if not self.store.delete(login):
            raise NotFoundError("User not found")
        log.info("user %r deleted", login)
