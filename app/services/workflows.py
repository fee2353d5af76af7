"""Workflows: saved job definitions with an optional interval or cron trigger; runs now or on schedule."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app.errors import ConflictError, InvalidError, NotFoundError
from app.models import Job, JobSpec, Trigger, Workflow, WorkflowSpec, WorkflowStatus
from app.services.jobs import JobService, check_schedule, valid_id
from app.services.schedule import Trigger as Grid
from app.services.schedule import check_cron, parse_zone
from app.settings import QUEUE_NAME_RE
from app.store.codec import format_time
from app.store.workflows import WorkflowStore, definition_fields

log = logging.getLogger(__name__)
TRIGGER_FIELDS = ("interval_s", "cron", "timezone", "start_at")


def grid_of(spec: WorkflowSpec, anchor_ms: int) -> Grid | None:
    """The run-time grid of a spec, or None when it only runs when asked."""
    if spec.interval_s:
        return Grid(interval_ms=round(spec.interval_s * 1000), anchor_ms=anchor_ms)
    if spec.cron:
        return Grid(cron=spec.cron, timezone=spec.timezone)
    return None


def _ms_precision(spec: WorkflowSpec) -> WorkflowSpec:
    """Planned times are whole milliseconds (as the API shows them), so startAt is cut to the millisecond."""
    if spec.start_at is None:
        return spec
    return replace(spec, start_at=spec.start_at.replace(microsecond=spec.start_at.microsecond // 1000 * 1000))


class WorkflowService:
    """Rules about workflows; the scheduler fires their runs, this service plans them."""

    def __init__(
        self, store: WorkflowStore, jobs: JobService, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.clock = clock or (lambda: datetime.now(UTC))

    def _now_ms(self) -> int:
        return round(self.clock().timestamp() * 1000)

    def validate(self, spec: WorkflowSpec, check_start: bool = True) -> None:
        if not spec.name.strip():
            raise InvalidError("Invalid request", {"name": ["Must not be empty."]})
        if not QUEUE_NAME_RE.match(spec.queue):
            raise InvalidError(
                "Invalid request", {"queue": ["Must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$."]}
            )
        self.jobs.tasks.get(spec.task).check_params(spec.params)
        if spec.interval_s is not None and spec.cron is not None:
            raise InvalidError("Invalid request", {"cron": ["Give either interval or cron, not both."]})
        if spec.interval_s is not None and spec.interval_s < 1:
            raise InvalidError("Invalid request", {"interval": ["Must be at least 1 second."]})
        if spec.cron is not None:
            check_cron(spec.cron)
        parse_zone(spec.timezone)
        if check_start:
            check_schedule(spec.start_at, self.clock(), "startAt")

    def create(self, spec: WorkflowSpec, actor: str) -> Workflow:
        spec = _ms_precision(spec)
        self.validate(spec)
        workflow_id = str(uuid.uuid4())
        now_ms = self._now_ms()
        anchor_ms = self._anchor(spec, now_ms)
        grid = grid_of(spec, anchor_ms)
        stamp = format_time(self.clock())
        fields = definition_fields(workflow_id, spec) | {
            "status": WorkflowStatus.ACTIVE.value,
            "pausedReason": "",
            "anchor_ms": str(anchor_ms),
            "runCount": "0",
            "consecutiveFailures": "0",
            "createdAt": stamp,
            "updatedAt": stamp,
            "createdBy": actor,
            "lastRunAt": "",
            "lastJobId": "",
        }
        self.store.save(workflow_id, fields, grid.first_run(now_ms) if grid else None, now_ms)
        log.info("workflow %s created: %r task=%s", workflow_id, spec.name, spec.task)
        return self.get(workflow_id)

    def _anchor(self, spec: WorkflowSpec, now_ms: int) -> int:
        """Interval grids start at startAt, or one interval from now (as APScheduler does)."""
        if spec.start_at is not None:
            return round(spec.start_at.timestamp() * 1000)
        return now_ms + round((spec.interval_s or 0) * 1000)

    def get(self, workflow_id: str) -> Workflow:
        workflow = self.store.find(workflow_id) if valid_id(workflow_id) else None
        if workflow is None:
            raise NotFoundError("Workflow not found")
        return workflow

    def list_all(self) -> list[Workflow]:
        return self.store.all()

    def update(self, workflow_id: str, changes: dict[str, Any]) -> Workflow:
        """Change a definition; a changed trigger replans from the next point of the new grid."""
        current = self.get(workflow_id)
        if current.status is WorkflowStatus.TERMINATED:
            raise ConflictError(
                "The workflow is terminated", {"status": ["Terminated workflows cannot change."]}
            )
        spec = _ms_precision(replace(current.spec, **changes))
        if "interval_s" in changes and changes["interval_s"] is not None:
            spec = replace(spec, cron=None)
        if "cron" in changes and changes["cron"] is not None:
            spec = replace(spec, interval_s=None)
        self.validate(spec, check_start="start_at" in changes)
        now_ms = self._now_ms()
        anchor_ms = current.anchor_ms
        if "start_at" in changes or ("interval_s" in changes and not current.spec.interval_s):
            anchor_ms = self._anchor(spec, now_ms)
        fields = definition_fields(workflow_id, spec) | {
            "anchor_ms": str(anchor_ms),
            "updatedAt": format_time(self.clock()),
        }
        retimed = any(k in changes for k in TRIGGER_FIELDS)
        next_ms = self._next(spec, anchor_ms, now_ms) if current.status is WorkflowStatus.ACTIVE else None
        if current.status is WorkflowStatus.ACTIVE and not retimed and current.next_run_at is not None:
            next_ms = round(current.next_run_at.timestamp() * 1000)
        self.store.save(workflow_id, fields, next_ms, None)
        return self.get(workflow_id)

    def _next(self, spec: WorkflowSpec, anchor_ms: int, now_ms: int) -> int | None:
        grid = grid_of(spec, anchor_ms)
        return grid.first_run(now_ms) if grid else None

    def pause(self, workflow_id: str, reason: str = "paused by a user") -> Workflow:
        current = self.get(workflow_id)
        if current.status is WorkflowStatus.TERMINATED:
            raise ConflictError(
                "The workflow is terminated", {"status": ["Cannot pause a terminated workflow."]}
            )
        fields = {
            "status": WorkflowStatus.PAUSED.value,
            "pausedReason": reason,
            "updatedAt": format_time(self.clock()),
        }
        self.store.save(workflow_id, fields, None, None)
        return self.get(workflow_id)

    def resume(self, workflow_id: str) -> Workflow:
        """Back to active, on the same grid: the next run is the next grid point from now."""
        current = self.get(workflow_id)
        if current.status is WorkflowStatus.TERMINATED:
            raise ConflictError(
                "The workflow is terminated", {"status": ["Cannot resume a terminated workflow."]}
            )
        fields = {
            "status": WorkflowStatus.ACTIVE.value,
            "pausedReason": "",
            "consecutiveFailures": "0",
            "updatedAt": format_time(self.clock()),
        }
        next_ms = self._next(current.spec, current.anchor_ms, self._now_ms())
        self.store.save(workflow_id, fields, next_ms, None)
        return self.get(workflow_id)

    def terminate(self, workflow_id: str) -> None:
        self.get(workflow_id)
        fields = {"status": WorkflowStatus.TERMINATED.value, "updatedAt": format_time(self.clock())}
        self.store.save(workflow_id, fields, None, None)
        log.info("workflow %s terminated", workflow_id)

    def run(
        self,
        workflow_id: str,
        actor: str,
        params: dict[str, Any] | None = None,
        priority: int | None = None,
        scheduled_at: datetime | None = None,
        input_data: list[Any] | None = None,
    ) -> Job:
        """A MANUAL job from the saved definition (params merged over the saved ones), now or later."""
        wf = self.get(workflow_id)
        spec = JobSpec(
            task=wf.spec.task,
            queue=wf.spec.queue,
            params={**wf.spec.params, **(params or {})},
            priority=wf.spec.priority if priority is None else priority,
            max_retries=wf.spec.max_retries,
            timeout_s=wf.spec.timeout_s,
            scheduled_at=scheduled_at,
            title=wf.spec.name,
            description=wf.spec.description,
            actor=actor,
            trigger=Trigger.MANUAL,
            workflow_id=wf.id,
            workflow_name=wf.spec.name,
            input_data=input_data,
        )
        job, _ = self.jobs.submit(spec)
        self.store.record_manual_run(workflow_id, job.id, self._now_ms())
        return job

    def execute_async(
        self, workflow_id: str, actor: str, input_data: list[Any] | None, priority: int | None
    ) -> Job:
        """The seed workflow engine's form of run: each inputData item's `json` is merged into the params."""
        params: dict[str, Any] = {}
        for item in input_data or []:
            if isinstance(item, dict) and isinstance(item.get("json"), dict):
                params.update(item["json"])
        return self.run(workflow_id, actor, params, priority, input_data=input_data)
