"""Login, logout and who-am-I: a password for a signed, expiring bearer token."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth import bearer_token, client_address
from app.api.context import load_body, principal, services
from app.api.schemas.auth import LoginReplySchema, LoginSchema, PrincipalSchema

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
def login() -> Response:
    data = load_body(LoginSchema())
    token = services().auth.login(data["login"], data["password"], client_address())
    return jsonify(LoginReplySchema().dump(token))


@bp.post("/logout")
def logout() -> Response:
    services().auth.logout(bearer_token())
    return Response(status=204)


@bp.get("/me")
def me() -> Response:
    return jsonify(PrincipalSchema().dump(principal()))
