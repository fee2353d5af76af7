"""Login: a password for a signed, expiring bearer token."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from marshmallow import fields, validate

from app.api.context import load_body, services
from app.api.schemas.common import StrictSchema, iso_ms

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


class LoginSchema(StrictSchema):
    login = fields.String(required=True, validate=validate.Length(1, 128))
    password = fields.String(required=True, validate=validate.Length(1, 1024))


@bp.post("/login")
def login() -> Response:
    data = load_body(LoginSchema())
    token = services().auth.login(data["login"], data["password"])
    return jsonify({"token": token.token, "expiresAt": iso_ms(token.expires_at), "role": token.role})
