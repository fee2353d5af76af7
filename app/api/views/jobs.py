"""Jobs endpoints: parse, call one JobService method, dump."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from app.api.auth import ahead, read_ahead
from app.api.context import load_body, load_query, principal, services
from app.api.schemas.jobs import (
    DeleteJobQuery,
    JobSchema,
    ListJobsQuery,
    PaginationSchema,
    SubmitJobSchema,
    job_json,
)
from app.errors import InvalidError, NotFoundError
from app.models import Job, JobFilter, JobPage, JobSpec

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")
JOB = JobSchema()
PAGINATION = PaginationSchema()


def dump_job(job: Job) -> dict[str, Any]:
    return job_json(job)  # = JOB.dump(job), without marshmallow's per-field cost


def dump_page(page: JobPage) -> dict[str, Any]:
    return {
        "data": [dump_job(j) for j in page.jobs],
        "total": page.total,
        "pendingCount": page.pending_count,
        "runningCount": page.running_count,
        "nextCursor": page.next_cursor,
        "pagination": PAGINATION.dump(
            {
                "current_page": page.page,
                "total_pages": page.total_pages,
                "total_jobs": page.total,
                "limit": page.limit,
            }
        ),
    }


def visible_job(job_id: str) -> Job:
    """The job, or 404 when it does not exist or the caller's token is scoped to other queues."""
    job = services().jobs.get(job_id, ahead())
    if not principal().may_see_queue(job.queue):
        raise NotFoundError("Job not found")
    return job


def idempotency_key() -> str | None:
    """The Idempotency-Key header: 1-255 printable ASCII characters, or absent."""
    key = request.headers.get("Idempotency-Key")
    if key is None or key == "":
        return None
    if len(key) > 255 or not all(32 < ord(c) < 127 for c in key):
        raise InvalidError(
            "Invalid request", {"Idempotency-Key": ["Use 1 to 255 printable ASCII characters."]}
        )
    return key


@bp.post("")
def submit_job() -> Response:
    data = load_body(SubmitJobSchema())
    who = principal()
    if not who.may_see_queue(data["queue"]):
        raise NotFoundError("Queue not found")
    timeout = data["timeout"] or services().settings.default_timeout_s
    spec = JobSpec(
        task=data["task"],
        queue=data["queue"],
        params=data["params"],
        priority=data["priority"],
        max_retries=data["max_retries"],
        timeout_s=timeout,
        scheduled_at=data["scheduled_at"],
        title=data["title"],
        description=data["description"],
        actor=who.name,
    )
    job, created = services().jobs.submit(spec, idempotency_key())
    response = jsonify(dump_job(job))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    return response


@bp.get("")
def list_jobs() -> Response:
    q = load_query(ListJobsQuery())
    f = JobFilter(
        status=q["status"],
        queue=q["queue"],
        task=q["task"],
        trigger=q["trigger"],
        workflow_id=q["workflow_id"],
    )
    page = services().jobs.list(scoped_filter(f), q["limit"], q["page"], q["cursor"])
    return jsonify(dump_page(page))


def scoped_filter(f: JobFilter) -> JobFilter:
    """A token scoped to queues lists only those: its one queue by default, else it must name one."""
    scope = principal().queues
    if scope is None:
        return f
    if f.queue is not None:
        if f.queue not in scope:
            raise NotFoundError("Queue not found")
        return f
    if len(scope) == 1:
        return replace(f, queue=scope[0])
    raise InvalidError(
        "Invalid request", {"queue": [f"This token may list only one of: {', '.join(scope)}."]}
    )


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    return jsonify(dump_job(visible_job(job_id)))


read_ahead("jobs.get_job", lambda job_id: services().jobs.read_ahead(job_id))


@bp.delete("/<job_id>")
def delete_job(job_id: str) -> Response:
    q = load_query(DeleteJobQuery())
    visible_job(job_id)
    services().jobs.delete(job_id, force=q["force"])
    return Response(status=204)


@bp.post("/<job_id>/cancel")
@bp.post("/<job_id>/abort")
def cancel_job(job_id: str) -> Response:
    visible_job(job_id)
    return jsonify(dump_job(services().jobs.cancel(job_id)))


@bp.post("/<job_id>/retry")
@bp.post("/<job_id>/restart")
def retry_job(job_id: str) -> Response:
    visible_job(job_id)
    return jsonify(dump_job(services().jobs.retry(job_id)))


@bp.get("/stats")
def job_stats() -> Response:
    who = principal()
    return jsonify(services().extra["stats"].stats(who.may_see_queue if who.queues is not None else None))
