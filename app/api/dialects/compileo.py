"""Compileo's jobs API (`/api/v1/jobs/status/...`, `/queue/stats`, `/cancel/`, `/restart/`): snake_case."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import fields, validate

from app.api.context import load_query, principal, services
from app.api.schemas.common import StrictSchema, iso_ms
from app.api.schemas.jobs import StatusParam
from app.api.sse import frame, sse_response
from app.api.views.jobs import visible_job
from app.api.views.realtime import realtime
from app.models import DELETED, ChangeEvent, Job, JobStatus

bp = Blueprint("compileo", __name__, url_prefix="/api/v1/jobs")

STATUS = {
    JobStatus.PENDING: "pending",
    JobStatus.SCHEDULED: "pending",
    JobStatus.RUNNING: "running",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "cancelled",
}
TERMINAL_WORDS = ("completed", "failed", "cancelled")


def compileo_job(job: Job) -> dict[str, Any]:
    """Compileo's status object; `progress` is always a number (its clients format it with :.1f)."""
    return {
        "job_id": job.id,
        "status": STATUS[job.status],
        "progress": float(job.progress or 0.0),
        "current_step": job.current_step or "",
        "result": job.result,
        "error": job.error,
        "created_at": iso_ms(job.created_at),
        "started_at": iso_ms(job.started_at),
        "completed_at": iso_ms(job.completed_at),
        "updated_at": iso_ms(job.updated_at),
    }


@bp.get("/status/<job_id>")
def compileo_status(job_id: str) -> Response:
    return jsonify(compileo_job(visible_job(job_id)))


class CompileoPollQuery(StrictSchema):
    timeout = fields.Float(load_default=30.0, validate=validate.Range(1, 300))
    current_status = StatusParam(load_default=None)


def compileo_event(event: ChangeEvent) -> bytes:
    data = {
        "job_id": event.job_id,
        "status": "deleted" if event.status == DELETED else STATUS[JobStatus(event.status)],
        "progress": float(event.progress or 0.0),
        "current_step": event.current_step or "",
        "timestamp": iso_ms(event.timestamp),
    }
    return frame(data, event.entry_id)


@bp.get("/status/<job_id>/poll")
def compileo_poll(job_id: str) -> Response:
    q = load_query(CompileoPollQuery())
    job = realtime().poll(job_id, q["timeout"], q["current_status"], principal().may_see_queue)
    return jsonify(compileo_job(job))


@bp.get("/status/<job_id>/stream")
def compileo_stream(job_id: str) -> Response:
    feed = realtime().job_feed(job_id, request.headers.get("Last-Event-ID"), principal().may_see_queue)
    return sse_response(feed, compileo_event)


@bp.post("/cancel/<job_id>")
def compileo_cancel(job_id: str) -> Response:
    visible_job(job_id)
    services().jobs.cancel(job_id)
    return jsonify({"message": f"Job {job_id} cancelled successfully"})


@bp.post("/restart/<job_id>")
def compileo_restart(job_id: str) -> Response:
    visible_job(job_id)
    services().jobs.retry(job_id)
    return jsonify({"message": f"Job {job_id} restarted successfully"})


@bp.get("/queue/stats")
def compileo_queue_stats() -> Response:
    who = principal()
    native = services().extra["stats"].stats(who.may_see_queue if who.queues is not None else None)
    usage = services().extra["stats"].resources()
    cpu, memory = usage["cpuPercent"], usage["memoryMb"]
    return jsonify(
        {
            "pending_jobs": native["pending"],
            "running_jobs": native["running"],
            "scheduled_jobs": native["scheduled"],
            "completed_jobs": native["completed"],
            "failed_jobs": native["failed"],
            "cancelled_jobs": native["canceled"],
            "retrying_jobs": native["retrying"],
            "total_jobs": native["total"],
            "queue_type": "redis",
            "cache_size": native["completed"],
            "cpu_usage_percent": cpu,
            "memory_usage_mb": memory,
            "active_workers": native["workers"],
            "queue_health": {
                "status": native["health"]["status"],
                "resource_utilization": "high" if cpu > 90 else "optimal",
                "limit_enforcement": "active",
            },
        }
    )
