"""API tokens (admin only): create (the secret is in this one answer), list, read, revoke."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify, url_for

from app.api.context import load_body, principal, services
from app.api.schemas.auth import CreateTokenSchema, NewTokenSchema, TokenListSchema, TokenSchema
from app.services.tokens import TokenService

bp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens")
TOKEN = TokenSchema()


def tokens() -> TokenService:
    return services().auth.tokens


@bp.get("")
def list_tokens() -> Response:
    return jsonify(TokenListSchema().dump({"tokens": tokens().list()}))


@bp.post("")
def create_token() -> Response:
    data = load_body(CreateTokenSchema())
    token, secret = tokens().create(
        data["name"], data["role"], data["queues"], data["rate_limit"], created_by=principal().name
    )
    response = jsonify(NewTokenSchema().dump({**asdict(token), "token": secret}))
    response.status_code = 201
    response.headers["Location"] = url_for("tokens.get_token", token_id=token.id)
    return response


@bp.get("/<token_id>")
def get_token(token_id: str) -> Response:
    return jsonify(TOKEN.dump(tokens().get(token_id)))


@bp.delete("/<token_id>")
def revoke_token(token_id: str) -> Response:
    tokens().revoke(token_id)
    return Response(status=204)
