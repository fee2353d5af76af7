"""Request and response schemas of the queues and workers endpoints (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas.common import StrictSchema, Time
from app.api.schemas.jobs import StatusParam


class QueueJobsQuery(StrictSchema):
    """GET /queues/{name}: one status (all when absent), by page or cursor."""

    status = StatusParam(load_default=None)
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 1000))
    page = fields.Integer(load_default=None, validate=validate.Range(1, 10**7))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 400))

    @validates_schema
    def one_way_to_page(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("page") is not None and data.get("cursor") is not None:
            raise ValidationError("Use either page or cursor, not both.", "cursor")


class PurgeQuery(StrictSchema):
    status = StatusParam(required=True)


class CountsSchema(StrictSchema):
    pending = fields.Integer()
    running = fields.Integer()
    scheduled = fields.Integer()
    completed = fields.Integer()
    failed = fields.Integer()
    canceled = fields.Integer()


class QueueSchema(StrictSchema):
    """A queue in /queues: `retrying` (jobs waiting for a retry, counted in `scheduled`) is an extension."""

    name = fields.String()
    paused = fields.Boolean()
    workers = fields.Integer()
    counts = fields.Nested(CountsSchema)
    retrying = fields.Integer()


class WorkerSchema(StrictSchema):
    """A live worker; `totalWorkingTime` in milliseconds."""

    id = fields.String(attribute="name")
    hostname = fields.String()
    pid = fields.Integer(allow_none=True)
    state = fields.String()
    queues = fields.List(fields.String())
    current_job_id = fields.String(data_key="currentJobId", allow_none=True)
    last_heartbeat = Time(data_key="lastHeartbeat", allow_none=True)
    started_at = Time(data_key="startedAt", allow_none=True)
    successful_jobs = fields.Integer(data_key="successfulJobs")
    failed_jobs = fields.Integer(data_key="failedJobs")
    total_working_time = fields.Method("working_ms", data_key="totalWorkingTime")

    def working_ms(self, worker: Any) -> int:
        return round(worker.total_working_time_s * 1000)
