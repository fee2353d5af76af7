"""Open Archiver's jobs API (`/v1/jobs/queues`): BullMQ's state words and job fields, admin only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import ValidationError, fields, validate

from app.api.context import load_query, principal, services
from app.api.schemas.common import StrictSchema, redact
from app.api.views.queues import visible
from app.models import Job, JobPage, JobStatus, QueueInfo

bp = Blueprint("open_archiver", __name__, url_prefix="/v1/jobs")

# BullMQ state -> Jobline status. "paused" means waiting in a paused queue; "waiting" in a running one.
STATES = {
    "active": JobStatus.RUNNING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "delayed": JobStatus.SCHEDULED,
    "waiting": JobStatus.PENDING,
    "paused": JobStatus.PENDING,
}
WORDS = {
    JobStatus.RUNNING: "active",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.SCHEDULED: "delayed",
    JobStatus.PENDING: "waiting",
    JobStatus.CANCELED: "failed",
}


class StateParam(fields.String):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        word = super()._deserialize(value, attr, data, **kwargs).lower()
        if word not in STATES:
            raise ValidationError(f"Must be one of {', '.join(STATES)}.")
        return word


class QueueJobsQuery(StrictSchema):
    status = StateParam(load_default="failed")
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10**7))
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 1000))


def counts(info: QueueInfo) -> dict[str, int]:
    waiting = info.counts["pending"]
    return {
        "active": info.counts["running"],
        "completed": info.counts["completed"],
        "failed": info.counts["failed"],
        "delayed": info.counts["scheduled"],
        "waiting": 0 if info.paused else waiting,
        "paused": waiting if info.paused else 0,
    }


def _ms(job_time: Any) -> int | None:
    return None if job_time is None else round(job_time.timestamp() * 1000)


def bull_job(job: Job, paused: bool) -> dict[str, Any]:
    state = "paused" if paused and job.status is JobStatus.PENDING else WORDS[job.status]
    shape = {
        "id": job.id,
        "name": job.task,
        "data": redact(job.params),
        "state": state,
        "failedReason": job.error,
        "timestamp": _ms(job.created_at),
        "processedOn": _ms(job.started_at),
        "finishedOn": _ms(job.completed_at),
        "attemptsMade": len(job.history),
        "stacktrace": job.stacktrace or [],
        "returnValue": job.result,
        "error": job.error,
    }
    if "ingestionSourceId" in job.params:  # Open Archiver copies it out of `data` (absent otherwise)
        shape["ingestionSourceId"] = job.params["ingestionSourceId"]
    return shape


@bp.get("/queues")
def oa_list_queues() -> Response:
    infos = services().extra["queue_service"].list(principal().may_see_queue)
    return jsonify({"queues": [{"name": q.name, "counts": counts(q)} for q in infos]})


@bp.get("/queues/<queue_name>")
def oa_get_queue(queue_name: str) -> Response:
    q = load_query(QueueJobsQuery())
    status = STATES[q["status"]]
    info, page = (
        services().extra["queue_service"].get(visible(queue_name), status, q["limit"], q["page"], None)
    )
    # BullMQ: a queue's waiting jobs are either all "paused" or all "waiting", as the queue is
    if q["status"] == "paused" and not info.paused or q["status"] == "waiting" and info.paused:
        page = JobPage([], 0, 0, 0, None, q["page"], q["limit"])
    return jsonify(
        {
            "name": info.name,
            "counts": counts(info),
            "jobs": [bull_job(j, info.paused) for j in page.jobs],
            "pagination": {
                "currentPage": q["page"],
                "totalPages": page.total_pages,
                "totalJobs": page.total,
                "limit": q["limit"],
            },
        }
    )
