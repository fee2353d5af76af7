"""Request and response schemas of the real-time endpoints: long poll, event streams and job logs."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api.schemas.common import StrictSchema, Time
from app.api.schemas.jobs import QUEUE_FIELD, StatusParam

LAST_EVENT_ID = validate.Length(1, 64)


class PollQuery(StrictSchema):
    timeout = fields.Float(load_default=30.0, validate=validate.Range(1, 300))
    current_status = StatusParam(data_key="currentStatus", load_default=None)
    current_status_snake = StatusParam(data_key="current_status", load_default=None)


class StreamQuery(StrictSchema):
    """`lastEventId` stands in for the Last-Event-ID header where a client cannot set headers."""

    last_event_id = fields.String(data_key="lastEventId", load_default=None, validate=LAST_EVENT_ID)


class EventsQuery(StreamQuery):
    queue = fields.String(load_default=None, validate=QUEUE_FIELD)


class LogsQuery(StreamQuery):
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 2**53))
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
    follow = fields.Boolean(load_default=False)


class JobEventSchema(StrictSchema):
    """`data` of a per-job stream event."""

    job_id = fields.String(data_key="id")
    status = fields.String()
    progress = fields.Float(allow_none=True)
    current_step = fields.String(data_key="currentStep", allow_none=True)
    timestamp = Time()


class QueueEventSchema(StrictSchema):
    """`data` of an /events event: the per-job fields plus the queue."""

    job_id = fields.String(data_key="id")
    queue = fields.String()
    status = fields.String()
    progress = fields.Float(allow_none=True)
    current_step = fields.String(data_key="currentStep", allow_none=True)
    timestamp = Time()


class LogLineSchema(StrictSchema):
    offset = fields.Integer()
    ts = Time()
    level = fields.String()
    message = fields.String()


class LogChunkSchema(StrictSchema):
    lines = fields.List(fields.Nested(LogLineSchema))
    next_offset = fields.Integer(data_key="nextOffset")
