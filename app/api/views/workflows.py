"""Workflow endpoints (saved job definitions, interval and cron triggers) and executions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from app.api.context import load_body, load_query, principal, services
from app.api.schemas.common import restore_redacted
from app.api.schemas.jobs import ListJobsQuery
from app.api.schemas.workflows import (
    CreateWorkflowSchema,
    ExecuteAsyncSchema,
    RunWorkflowSchema,
    WorkflowFields,
    WorkflowSchema,
)
from app.api.views.jobs import dump_job, dump_page, scoped_filter, visible_job
from app.errors import NotFoundError
from app.models import JobFilter, Workflow, WorkflowSpec
from app.services.workflows import WorkflowService

bp = Blueprint("workflows", __name__, url_prefix="/api/v1")
WORKFLOW = WorkflowSchema()


def workflows() -> WorkflowService:
    return services().extra["workflows"]


def dump(workflow: Workflow) -> dict[str, Any]:
    return WORKFLOW.dump(workflow)


def visible_workflow(workflow_id: str) -> Workflow:
    """The workflow, or 404 when the caller's token is scoped to other queues (as for jobs)."""
    workflow = workflows().get(workflow_id)
    if not principal().may_see_queue(workflow.spec.queue):
        raise NotFoundError("Workflow not found")
    return workflow


@bp.post("/workflows")
def create_workflow() -> Response:
    data = load_body(CreateWorkflowSchema())
    spec = WorkflowSpec(**data)
    if "timeout_s" not in data:
        spec = replace(spec, timeout_s=services().settings.default_timeout_s)
    workflow = workflows().create(spec, principal().name)
    response = jsonify(dump(workflow))
    response.status_code = 201
    response.headers["Location"] = url_for("workflows.get_workflow", workflow_id=workflow.id)
    return response


@bp.get("/workflows")
def list_workflows() -> Response:
    who = principal()
    return jsonify(
        {"workflows": [dump(w) for w in workflows().list_all() if who.may_see_queue(w.spec.queue)]}
    )


@bp.get("/workflows/<workflow_id>")
def get_workflow(workflow_id: str) -> Response:
    return jsonify(dump(visible_workflow(workflow_id)))


@bp.patch("/workflows/<workflow_id>")
def update_workflow(workflow_id: str) -> Response:
    changes = load_body(WorkflowFields())
    if "params" in changes:  # "***" sent back as read keeps the saved secret
        changes["params"] = restore_redacted(changes["params"], workflows().get(workflow_id).spec.params)
    return jsonify(dump(workflows().update(workflow_id, changes)))


@bp.delete("/workflows/<workflow_id>")
def delete_workflow(workflow_id: str) -> Response:
    workflows().terminate(workflow_id)
    return Response(status=204)


@bp.post("/workflows/<workflow_id>/pause")
def pause_workflow(workflow_id: str) -> Response:
    return jsonify(dump(workflows().pause(workflow_id)))


@bp.post("/workflows/<workflow_id>/resume")
def resume_workflow(workflow_id: str) -> Response:
    return jsonify(dump(workflows().resume(workflow_id)))


@bp.post("/workflows/<workflow_id>/run")
def run_workflow(workflow_id: str) -> Response:
    data = load_body(RunWorkflowSchema())
    saved = visible_workflow(workflow_id).spec.params
    params = None if data["params"] is None else restore_redacted(data["params"], saved)
    job = workflows().run(workflow_id, principal().name, params, data["priority"], data["scheduled_at"])
    response = jsonify(dump_job(job))
    response.status_code = 201
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    return response


@bp.post("/workflows/<workflow_id>/execute-async")
def execute_workflow_async(workflow_id: str) -> Response:
    data = load_body(ExecuteAsyncSchema())
    visible_workflow(workflow_id)
    job = workflows().execute_async(workflow_id, principal().name, data["input_data"], data["priority"])
    # the status at acceptance, as the seed engine documents it (a worker may have started it already)
    response = jsonify({"jobId": job.id, "status": "pending"})
    response.status_code = 202
    return response


@bp.get("/workflows/<workflow_id>/jobs")
def workflow_jobs(workflow_id: str) -> Response:
    visible_workflow(workflow_id)
    q = load_query(ListJobsQuery())
    f = JobFilter(
        status=q["status"], queue=q["queue"], task=q["task"], trigger=q["trigger"], workflow_id=workflow_id
    )
    page = services().jobs.list(scoped_filter(f), q["limit"], q["page"], q["cursor"])
    return jsonify(dump_page(page))


@bp.get("/executions/<job_id>")
def get_execution(job_id: str) -> Response:
    return jsonify(dump_job(visible_job(job_id)))
