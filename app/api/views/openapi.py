"""GET /api/v1/openapi.json: the OpenAPI 3 document of this API (public, built once per app)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app.api.openapi import build_spec

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def spec() -> Response:
    document = current_app.extensions.get("jobline_openapi")
    if document is None:
        document = current_app.extensions["jobline_openapi"] = build_spec(current_app)
    return jsonify(document)
