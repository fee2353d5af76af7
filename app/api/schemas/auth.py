"""Request and response schemas of login, users and API tokens (camelCase on the wire)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api.schemas.common import StrictSchema, Time
from app.models import ROLES
from app.services.users import MAX_PASSWORD_LEN, MIN_PASSWORD_LEN
from app.settings import QUEUE_NAME_RE

ROLE = validate.OneOf(ROLES)
LOGIN = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", error="Must be 1-64 letters, digits, _.@-.")
NEW_PASSWORD = validate.Length(MIN_PASSWORD_LEN, MAX_PASSWORD_LEN)
QUEUE = validate.Regexp(QUEUE_NAME_RE, error="Must match ^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}$.")


class LoginSchema(StrictSchema):
    login = fields.String(required=True, validate=validate.Length(1, 128))
    password = fields.String(required=True, validate=validate.Length(1, MAX_PASSWORD_LEN))


class LoginReplySchema(StrictSchema):
    token = fields.String(required=True)
    expires_at = Time(data_key="expiresAt", required=True)
    role = fields.String(required=True)


class PrincipalSchema(StrictSchema):
    """GET /auth/me: who the presented token stands for."""

    name = fields.String(required=True)
    role = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "user, token or anonymous"})
    queues = fields.List(fields.String(), allow_none=True, required=True)


class CreateUserSchema(StrictSchema):
    login = fields.String(required=True, validate=LOGIN)
    password = fields.String(required=True, validate=NEW_PASSWORD)
    role = fields.String(required=True, validate=ROLE)


class UpdateUserSchema(StrictSchema):
    password = fields.String(load_default=None, validate=NEW_PASSWORD)
    role = fields.String(load_default=None, validate=ROLE)
    disabled = fields.Boolean(load_default=None)


class UserSchema(StrictSchema):
    login = fields.String(required=True)
    role = fields.String(required=True)
    disabled = fields.Boolean(required=True)
    created_at = Time(data_key="createdAt", required=True)
    updated_at = Time(data_key="updatedAt", required=True)


class UserListSchema(StrictSchema):
    users = fields.List(fields.Nested(UserSchema), required=True)


class CreateTokenSchema(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$", error="Must be 1-64 of A-Za-z0-9_.:@-."
        ),
    )
    role = fields.String(required=True, validate=ROLE)
    queues = fields.List(
        fields.String(validate=QUEUE), load_default=None, allow_none=True, validate=validate.Length(1, 100)
    )
    rate_limit = fields.Integer(
        data_key="rateLimit",
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(0, 10**7),
        metadata={"description": "requests per minute for this token (0: none; absent: JOBLINE_RATE_LIMIT)"},
    )


class TokenSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    queues = fields.List(fields.String(), allow_none=True, required=True)
    rate_limit_per_min = fields.Integer(data_key="rateLimit", allow_none=True, required=True)
    created_at = Time(data_key="createdAt", required=True)
    created_by = fields.String(data_key="createdBy", required=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "the secret: shown this once, never again"})


class TokenListSchema(StrictSchema):
    tokens = fields.List(fields.Nested(TokenSchema), required=True)
