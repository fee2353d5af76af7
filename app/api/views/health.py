"""Operations endpoints outside /api/v1: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from redis.exceptions import RedisError

from app.api.context import services
from app.api.errors import error_response
from app.services.metrics import render_metrics

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    try:
        services().redis.ping()
    except RedisError:
        return error_response(503, "UNAVAILABLE", "Redis is unreachable")
    return jsonify({"status": "ready"})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render_metrics(services()), mimetype="text/plain; version=0.0.4")
