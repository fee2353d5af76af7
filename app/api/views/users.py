"""Users (admin only): list, create, read, change (password, role, disabled) and delete."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from app.api.context import load_body, services
from app.api.schemas.auth import CreateUserSchema, UpdateUserSchema, UserListSchema, UserSchema
from app.services.users import UserService

bp = Blueprint("users", __name__, url_prefix="/api/v1/users")
USER = UserSchema()


def users() -> UserService:
    return services().auth.users


@bp.get("")
def list_users() -> Response:
    return jsonify(UserListSchema().dump({"users": users().list()}))


@bp.post("")
def create_user() -> Response:
    data = load_body(CreateUserSchema())
    user = users().create(data["login"], data["password"], data["role"])
    response = jsonify(USER.dump(user))
    response.status_code = 201
    response.headers["Location"] = url_for("users.get_user", login=user.login)
    return response


@bp.get("/<login>")
def get_user(login: str) -> Response:
    return jsonify(USER.dump(users().get(login)))


@bp.patch("/<login>")
def update_user(login: str) -> Response:
    data = load_body(UpdateUserSchema())
    return jsonify(USER.dump(users().update(login, data["password"], data["role"], data["disabled"])))


@bp.delete("/<login>")
def delete_user(login: str) -> Response:
    users().delete(login)
    return Response(status=204)
