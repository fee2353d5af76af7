"""Queues endpoints: parse, call one QueueService method, dump."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from app.api.context import load_query, principal, services
from app.api.schemas.queues import PurgeQuery, QueueJobsQuery, QueueSchema
from app.api.views.jobs import dump_page
from app.errors import NotFoundError
from app.services.queues import QueueService

bp = Blueprint("queues", __name__, url_prefix="/api/v1/queues")
QUEUE = QueueSchema()


def queue_service() -> QueueService:
    return services().extra["queue_service"]


def visible(name: str) -> str:
    """The queue name, or 404 when the caller's token is scoped to other queues."""
    if not principal().may_see_queue(name):
        raise NotFoundError("Queue not found")
    return name


@bp.get("")
def list_queues() -> Response:
    queues = queue_service().list(principal().may_see_queue)
    return jsonify({"queues": QUEUE.dump(queues, many=True)})


@bp.get("/<name>")
def get_queue(name: str) -> Response:
    q = load_query(QueueJobsQuery())
    info, page = queue_service().get(visible(name), q["status"], q["limit"], q["page"], q["cursor"])
    listing = dump_page(page)
    body: dict[str, Any] = QUEUE.dump(info)
    body.pop("workers", None)
    body["jobs"] = listing["data"]
    body["pagination"] = listing["pagination"]
    body["nextCursor"] = listing["nextCursor"]
    return jsonify(body)


@bp.post("/<name>/pause")
def pause_queue(name: str) -> Response:
    return jsonify(QUEUE.dump(queue_service().set_paused(visible(name), True)))


@bp.post("/<name>/resume")
def resume_queue(name: str) -> Response:
    return jsonify(QUEUE.dump(queue_service().set_paused(visible(name), False)))


@bp.delete("/<name>/jobs")
def purge_queue(name: str) -> Response:
    q = load_query(PurgeQuery())
    return jsonify({"deleted": queue_service().purge(visible(name), q["status"])})


@bp.post("/<name>/retry-failed")
def retry_failed(name: str) -> Response:
    return jsonify({"retried": queue_service().retry_failed(visible(name))})
