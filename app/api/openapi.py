"""The OpenAPI 3 document, generated from the app's routes, the permission table and the marshmallow schemas.

Every route of the app appears (paths and path parameters from the URL map, security from
app/api/permissions.py). What an endpoint reads and answers comes from OPERATIONS below: add an entry
next to a new view so that its body, query and answer are documented and fuzzed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields

from app import __version__
from app.api.permissions import PUBLIC, REQUIRED_ROLE
from app.api.schemas import auth as auth_schemas
from app.api.schemas import jobs as job_schemas
from app.api.schemas import realtime as rt_schemas
from app.api.schemas import workflows as wf_schemas
from app.api.schemas.common import JsonAny, StrictSchema, Time

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class ErrorSchema(Schema):
    """Every error of every endpoint: {error, code, details?}."""

    error = fields.String(required=True)
    code = fields.String(required=True)
    details = fields.Dict(metadata={"description": "field -> messages"})


class JobPageSchema(StrictSchema):
    data = fields.List(fields.Nested(job_schemas.JobSchema), required=True)
    total = fields.Integer(required=True)
    pending_count = fields.Integer(data_key="pendingCount", required=True)
    running_count = fields.Integer(data_key="runningCount", required=True)
    next_cursor = fields.String(data_key="nextCursor", allow_none=True, required=True)
    pagination = fields.Nested(job_schemas.PaginationSchema, required=True)


class StatusSchema(Schema):
    status = fields.String(required=True)


@dataclass(frozen=True)
class Operation:
    """What one endpoint reads and answers (schemas are marshmallow classes)."""

    summary: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    reply: type[Schema] | None = None
    status: int = 200
    content: str = JSON


OPERATIONS: dict[str, Operation] = {
    "health.healthz": Operation("Liveness", reply=StatusSchema),
    "health.readyz": Operation("Readiness: Redis answers", reply=StatusSchema),
    "health.metrics": Operation("Prometheus metrics", content="text/plain"),
    "openapi.spec": Operation("This document"),
    "auth.login": Operation("Log in", body=auth_schemas.LoginSchema, reply=auth_schemas.LoginReplySchema),
    "auth.logout": Operation("Revoke the presented login token", status=204),
    "auth.me": Operation("Who the token stands for", reply=auth_schemas.PrincipalSchema),
    "users.list_users": Operation("List users", reply=auth_schemas.UserListSchema),
    "users.create_user": Operation(
        "Create a user", body=auth_schemas.CreateUserSchema, reply=auth_schemas.UserSchema, status=201
    ),
    "users.get_user": Operation("One user", reply=auth_schemas.UserSchema),
    "users.update_user": Operation(
        "Change a user", body=auth_schemas.UpdateUserSchema, reply=auth_schemas.UserSchema
    ),
    "users.delete_user": Operation("Delete a user", status=204),
    "tokens.list_tokens": Operation("List API tokens", reply=auth_schemas.TokenListSchema),
    "tokens.create_token": Operation(
        "Create an API token",
        body=auth_schemas.CreateTokenSchema,
        reply=auth_schemas.NewTokenSchema,
        status=201,
    ),
    "tokens.get_token": Operation("One API token", reply=auth_schemas.TokenSchema),
    "tokens.revoke_token": Operation("Revoke an API token", status=204),
    "jobs.submit_job": Operation(
        "Submit a job", body=job_schemas.SubmitJobSchema, reply=job_schemas.JobSchema, status=201
    ),
    "jobs.list_jobs": Operation("List jobs", query=job_schemas.ListJobsQuery, reply=JobPageSchema),
    "jobs.get_job": Operation("One job", reply=job_schemas.JobSchema),
    "jobs.delete_job": Operation("Delete a job", query=job_schemas.DeleteJobQuery, status=204),
    "jobs.cancel_job": Operation("Cancel a job", reply=job_schemas.JobSchema),
    "jobs.retry_job": Operation("Retry a job", reply=job_schemas.JobSchema),
    "jobs.job_stats": Operation("Job statistics"),
    "workflows.create_workflow": Operation(
        "Create a workflow", body=wf_schemas.CreateWorkflowSchema, reply=wf_schemas.WorkflowSchema, status=201
    ),
    "workflows.list_workflows": Operation("List workflows"),
    "workflows.get_workflow": Operation("One workflow", reply=wf_schemas.WorkflowSchema),
    "workflows.update_workflow": Operation(
        "Change a workflow", body=wf_schemas.WorkflowFields, reply=wf_schemas.WorkflowSchema
    ),
    "workflows.delete_workflow": Operation("Terminate a workflow", status=204),
    "workflows.pause_workflow": Operation("Pause a workflow", reply=wf_schemas.WorkflowSchema),
    "workflows.resume_workflow": Operation("Resume a workflow", reply=wf_schemas.WorkflowSchema),
    "workflows.run_workflow": Operation(
        "Run a workflow now or later",
        body=wf_schemas.RunWorkflowSchema,
        reply=job_schemas.JobSchema,
        status=201,
    ),
    "workflows.execute_workflow_async": Operation(
        "Run a workflow (seed workflow engine's form)", body=wf_schemas.ExecuteAsyncSchema, status=202
    ),
    "workflows.workflow_jobs": Operation(
        "A workflow's jobs", query=job_schemas.ListJobsQuery, reply=JobPageSchema
    ),
    "workflows.get_execution": Operation(
        "One job (seed workflow engine's form)", reply=job_schemas.JobSchema
    ),
    "realtime.poll_job": Operation(
        "Long poll: the job once its status differs", query=rt_schemas.PollQuery, reply=job_schemas.JobSchema
    ),
    "realtime.stream_job": Operation(
        "A job's state, then each change, as server-sent events",
        query=rt_schemas.StreamQuery,
        content="text/event-stream",
    ),
    "realtime.stream_events": Operation(
        "Every job change as server-sent events", query=rt_schemas.EventsQuery, content="text/event-stream"
    ),
    "realtime.job_logs": Operation(
        "A job's captured log lines (server-sent events with follow=true)",
        query=rt_schemas.LogsQuery,
        reply=rt_schemas.LogChunkSchema,
    ),
}

ERROR_STATUSES = {
    400: "Invalid request (VALIDATION_ERROR)",
    401: "No, bad, expired or revoked token (UNAUTHORIZED)",
    403: "The role may not do this (FORBIDDEN)",
    404: "No such resource (NOT_FOUND)",
    409: "Does not fit the current state (CONFLICT)",
    413: "Body too large (PAYLOAD_TOO_LARGE)",
    429: "Rate limited (RATE_LIMITED); see Retry-After",
    503: "Redis unreachable (UNAVAILABLE); see Retry-After",
}
PATH_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CONVERTER_TYPES = {"int": "integer", "float": "number"}


def _param(converter: str, name: str) -> dict[str, Any]:
    kind = CONVERTER_TYPES.get(converter, "string")
    schema: dict[str, Any] = {"type": kind}
    if kind == "string":
        schema.update(minLength=1, pattern="^[^/]+$")
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """An OpenAPI path and its parameters from a werkzeug rule (`/jobs/<job_id>` -> `/jobs/{job_id}`)."""
    params = [_param(converter, name) for converter, name in PATH_ARG.findall(rule)]
    return PATH_ARG.sub(lambda m: "{" + m.group(2) + "}", rule), params


def _operation(endpoint: str, method: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    op = OPERATIONS.get(endpoint, Operation(endpoint.replace("_", " ").replace(".", ": ")))
    role = REQUIRED_ROLE.get(endpoint, "admin")
    success: dict[str, Any] = {"description": "OK"}
    if op.status != 204:
        content_schema: Any = op.reply if op.reply is not None else {"type": "object"}
        if op.content != JSON:
            content_schema = {"type": "string"}
        success["content"] = {op.content: {"schema": content_schema}}
    responses: dict[str, Any] = {str(op.status): success}
    for status, text in ERROR_STATUSES.items():
        responses[str(status)] = {"description": text, "content": {JSON: {"schema": "Error"}}}
    out: dict[str, Any] = {
        "operationId": f"{endpoint}.{method}" if method != "get" else endpoint,
        "summary": op.summary,
        "x-required-role": role,
        "parameters": list(params) + ([{"in": "query", "schema": op.query}] if op.query else []),
        "responses": responses,
        "security": [] if role == PUBLIC else [{"bearerAuth": []}],
    }
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": op.body}}}
    return out


def build_spec(app: Flask) -> dict[str, Any]:
    """The whole document for `app`'s routes."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Jobline API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Redis-backed jobs: submit, run, inspect and control. See API.md."},
    )
    plugin.map_to_openapi_type(Time, "string", "date-time")
    plugin.map_to_openapi_type(JsonAny, None, None)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        path, params = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, method.lower(), params)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    _list_tasks(document, app)
    return document


def _list_tasks(document: dict[str, Any], app: Flask) -> None:
    """Name the registered tasks in the submit schema (the allow-list a worker runs from)."""
    tasks = app.extensions["jobline"].extra.get("tasks")
    submit = document.get("components", {}).get("schemas", {}).get("SubmitJob")
    if tasks is not None and submit is not None:
        submit["properties"]["task"]["enum"] = tasks.names()
