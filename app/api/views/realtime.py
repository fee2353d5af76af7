"""Real-time endpoints: long poll, per-job and all-jobs event streams, and job logs (JSON or followed)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.api.context import load_query, principal, services
from app.api.schemas.realtime import (
    EventsQuery,
    JobEventSchema,
    LogChunkSchema,
    LogLineSchema,
    LogsQuery,
    PollQuery,
    QueueEventSchema,
    StreamQuery,
)
from app.api.sse import frame, sse_response
from app.api.views.jobs import dump_job, visible_job
from app.errors import NotFoundError
from app.models import ChangeEvent, LogLine
from app.services.realtime import RealtimeService, Reset

bp = Blueprint("realtime", __name__, url_prefix="/api/v1")
JOB_EVENT, QUEUE_EVENT = JobEventSchema(), QueueEventSchema()
# Stateless schemas, built once: a stream open is frequent enough (reconnect herds) to count the cost.
POLL_QUERY, STREAM_QUERY, EVENTS_QUERY, LOGS_QUERY = PollQuery(), StreamQuery(), EventsQuery(), LogsQuery()
LOG_LINE, LOG_CHUNK = LogLineSchema(), LogChunkSchema()


def realtime() -> RealtimeService:
    return services().extra["realtime"]


def last_event_id(query: dict[str, Any]) -> str | None:
    return request.headers.get("Last-Event-ID") or query.get("last_event_id")


def may_see(queue: str) -> bool:
    return principal().may_see_queue(queue)


# One event goes to many clients: it is rendered once per process, not once per client. The clients of an
# event take it within milliseconds of each other, so a small cache suffices (and keeps memory flat).
@lru_cache(maxsize=256)
def render_job_event(event: ChangeEvent) -> bytes:
    return frame(JOB_EVENT.dump(event), event.entry_id)


@lru_cache(maxsize=256)
def render_queue_event(event: ChangeEvent) -> bytes:
    return frame(QUEUE_EVENT.dump(event), event.entry_id)


def render_reset(item: Reset) -> bytes:
    return frame({"lastEventId": item.entry_id}, item.entry_id, event="reset")


def render_log_line(line: LogLine) -> bytes:
    return frame(LOG_LINE.dump(line), line.offset)


@bp.get("/jobs/<job_id>/poll")
def poll_job(job_id: str) -> Response:
    q = load_query(POLL_QUERY)
    current = q["current_status"] or q["current_status_snake"]
    return jsonify(dump_job(realtime().poll(job_id, q["timeout"], current, may_see)))


@bp.get("/jobs/<job_id>/stream")
def stream_job(job_id: str) -> Response:
    q = load_query(STREAM_QUERY)
    feed = realtime().job_feed(job_id, last_event_id(q), may_see)
    return sse_response(feed, render_job_event)


@bp.get("/events")
def stream_events() -> Response:
    q = load_query(EVENTS_QUERY)
    feed = realtime().all_feed(visible_queues(q["queue"]), last_event_id(q))
    return sse_response(
        feed, lambda item: render_reset(item) if isinstance(item, Reset) else render_queue_event(item)
    )


def visible_queues(queue: str | None) -> frozenset[str] | None:
    """The queues whose events the caller may see: `queue` if given, else all (or its token's scope)."""
    scope = principal().queues
    if queue is not None:
        if scope is not None and queue not in scope:
            raise NotFoundError("Queue not found")
        return frozenset({queue})
    return frozenset(scope) if scope is not None else None


@bp.get("/jobs/<job_id>/logs")
def job_logs(job_id: str) -> Response:
    q = load_query(LOGS_QUERY)
    if q["follow"]:
        feed = realtime().log_feed(job_id, follow_offset(q), may_see)
        return sse_response(feed, render_log_line)
    visible_job(job_id)
    return jsonify(LOG_CHUNK.dump(realtime().read_logs(job_id, q["offset"], q["limit"])))


def follow_offset(query: dict[str, Any]) -> int:
    """Where a follower starts: after the Last-Event-ID it saw (an offset), else at `offset`."""
    seen = last_event_id(query)
    if seen and seen.isdigit():
        return int(seen) + 1
    return int(query["offset"])
