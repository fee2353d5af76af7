"""Request and response schemas of the workflows endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas.common import JsonAny, RedactedJson, StrictSchema, Time, text
from app.api.schemas.jobs import QUEUE_FIELD
from app.models import PRIORITY_MAX, PRIORITY_MIN

OVERLAP_POLICIES = ("allow", "skip")


class Seconds(fields.Number):
    """A positive number of seconds (int or float), at most 366 days."""

    num_type = float

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Must be a number of seconds.")
        return float(value)


def _priority(**kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(PRIORITY_MIN, PRIORITY_MAX), **kw)


class WorkflowFields(StrictSchema):
    name = text(200)
    task = fields.String(validate=validate.Length(1, 128))
    queue = fields.String(validate=QUEUE_FIELD)
    params = fields.Dict(keys=fields.String())
    priority = _priority()
    timeout_s = fields.Integer(data_key="timeout", strict=True, validate=validate.Range(1, 3600))
    max_retries = fields.Integer(data_key="maxRetries", strict=True, validate=validate.Range(0, 25))
    interval_s = Seconds(data_key="interval", allow_none=True, validate=validate.Range(1, 366 * 86400))
    cron = fields.String(allow_none=True, validate=validate.Length(1, 120))
    timezone = fields.String(validate=validate.Length(1, 64))
    start_at = Time(data_key="startAt", allow_none=True)
    max_consecutive_failures = fields.Integer(
        data_key="maxConsecutiveFailures", strict=True, validate=validate.Range(0, 10000)
    )
    description = text(2000)
    overlap = fields.String(validate=validate.OneOf(OVERLAP_POLICIES))

    @validates_schema
    def one_trigger(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("interval_s") is not None and data.get("cron") is not None:
            raise ValidationError("Give either interval or cron, not both.", "cron")


class CreateWorkflowSchema(WorkflowFields):
    """POST body: name and task required; other fields fall back to the defaults of WorkflowSpec."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("name", "task"):
            self.fields[name].required = True


class RunWorkflowSchema(StrictSchema):
    params = fields.Dict(keys=fields.String(), load_default=None)
    priority = _priority(load_default=None)
    scheduled_at = Time(data_key="scheduledAt", load_default=None, allow_none=True)


class ExecuteAsyncSchema(StrictSchema):
    input_data = fields.List(
        JsonAny(), data_key="inputData", load_default=None, validate=validate.Length(max=1000)
    )
    priority = _priority(load_default=None)


class WorkflowSchema(StrictSchema):
    """The contract's Workflow object (dump only)."""

    id = fields.String()
    name = fields.String(attribute="spec.name")
    task = fields.String(attribute="spec.task")
    queue = fields.String(attribute="spec.queue")
    params = RedactedJson(attribute="spec.params")
    priority = fields.Integer(attribute="spec.priority")
    timeout = fields.Integer(attribute="spec.timeout_s")
    max_retries = fields.Integer(data_key="maxRetries", attribute="spec.max_retries")
    interval = fields.Float(attribute="spec.interval_s", allow_none=True)
    cron = fields.String(attribute="spec.cron", allow_none=True)
    timezone = fields.String(attribute="spec.timezone")
    start_at = Time(data_key="startAt", attribute="spec.start_at", allow_none=True)
    description = fields.String(attribute="spec.description")
    status = fields.String()
    paused_reason = fields.String(data_key="pausedReason", allow_none=True)
    next_run_at = Time(data_key="nextRunAt", allow_none=True)
    last_run_at = Time(data_key="lastRunAt", allow_none=True)
    last_job_id = fields.String(data_key="lastJobId", allow_none=True)
    run_count = fields.Integer(data_key="runCount")
    consecutive_failures = fields.Integer(data_key="consecutiveFailures")
    max_consecutive_failures = fields.Integer(
        data_key="maxConsecutiveFailures", attribute="spec.max_consecutive_failures"
    )
    overlap = fields.String(attribute="spec.overlap")
    skipped_runs = fields.Integer(data_key="skippedRuns")
    created_by = fields.String(data_key="createdBy")
    created_at = Time(data_key="createdAt")
    updated_at = Time(data_key="updatedAt")
