"""Nick's jobs API (`/@login`, `/@jobs`): a bare JSON array of Nick job objects; actions answer 204."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import fields, validate

from app.api.auth import client_address
from app.api.context import load_body, load_query, services
from app.api.schemas.common import StrictSchema, iso_ms, redact
from app.api.views.jobs import scoped_filter, visible_job
from app.models import Job, JobFilter, JobStatus

bp = Blueprint("nick", __name__)

STATUS = {
    JobStatus.PENDING: "created",
    JobStatus.SCHEDULED: "created",
    JobStatus.RUNNING: "running",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "aborted",
}


class NickLogin(StrictSchema):
    login = fields.String(required=True, validate=validate.Length(1, 128))
    password = fields.String(required=True, validate=validate.Length(1, 1024))


class NickList(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


def nick_result(value: Any) -> dict[str, Any]:
    """Nick's `result` is an object: none -> {}, a non-object value -> {"value": ...}."""
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def nick_job(job: Job) -> dict[str, Any]:
    return {
        "@id": f"{request.host_url.rstrip('/')}/@jobs/{job.id}",
        "uuid": job.id,
        "title": job.title or job.task,
        "description": job.description,
        "params": redact(job.params),
        "actor": job.actor,
        "created": iso_ms(job.created_at),
        "started": iso_ms(job.started_at),
        "finished": iso_ms(job.completed_at),
        "status": STATUS[job.status],
        "result": nick_result(job.result),
    }


@bp.post("/@login")
def nick_login() -> Response:
    data = load_body(NickLogin())
    token = services().auth.login(data["login"], data["password"], client_address())
    return jsonify({"token": token.token, "expiresAt": iso_ms(token.expires_at), "role": token.role})


@bp.get("/@jobs")
def nick_list_jobs() -> Response:
    q = load_query(NickList())
    page = services().jobs.list(scoped_filter(JobFilter()), q["limit"])
    return jsonify([nick_job(j) for j in page.jobs])


@bp.get("/@jobs/<job_id>")
def nick_get_job(job_id: str) -> Response:
    return jsonify(nick_job(visible_job(job_id)))


@bp.delete("/@jobs/<job_id>")
def nick_delete_job(job_id: str) -> Response:
    visible_job(job_id)
    services().jobs.delete(job_id)
    return Response(status=204)


@bp.post("/@jobs/<job_id>/abort")
def nick_abort_job(job_id: str) -> Response:
    visible_job(job_id)
    services().jobs.cancel(job_id)
    return Response(status=204)


@bp.post("/@jobs/<job_id>/retry")
def nick_retry_job(job_id: str) -> Response:
    visible_job(job_id)
    services().jobs.retry(job_id)
    return Response(status=204)
