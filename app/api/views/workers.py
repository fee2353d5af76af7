"""Workers endpoint: the live workers, as rq's worker hashes show them."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.context import principal, services
from app.api.schemas.queues import WorkerSchema

bp = Blueprint("workers", __name__, url_prefix="/api/v1/workers")
WORKERS = WorkerSchema(many=True)


@bp.get("")
def list_workers() -> Response:
    who = principal()
    workers = [w for w in services().extra["workers"].list() if any(who.may_see_queue(q) for q in w.queues)]
    return jsonify({"workers": WORKERS.dump(workers)})
