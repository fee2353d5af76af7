"""Workflows in Redis: definitions (hashes), the due set schedulers sleep on, and firing runs (fire.lua)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from app import keys
from app.models import JobSpec, Trigger, Workflow, WorkflowSpec, WorkflowStatus
from app.store.codec import format_time, parse_time, spec_fields
from app.store.scripts import Scripts


@dataclass(frozen=True)
class Run:
    """One planned run a scheduler wants to fire."""

    workflow_id: str
    planned_ms: int
    slot_ms: int
    next_ms: int
    version: int
    job_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "wf": self.workflow_id,
            "planned": self.planned_ms,
            "slot": self.slot_ms,
            "next": self.next_ms,
            "ver": self.version,
            "job": self.job_id,
        }


def _s(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _ms_time(raw: str) -> datetime | None:
    return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw.isdigit() else None


def job_template(workflow_id: str, spec: WorkflowSpec) -> tuple[str, str]:
    """(job hash fields JSON, rq data JSON) of the AUTOMATIC jobs a workflow makes."""
    job = JobSpec(
        task=spec.task,
        queue=spec.queue,
        params=spec.params,
        priority=spec.priority,
        max_retries=spec.max_retries,
        timeout_s=spec.timeout_s,
        title=spec.name,
        description=spec.description,
        actor="scheduler",
        trigger=Trigger.AUTOMATIC,
        workflow_id=workflow_id,
        workflow_name=spec.name,
    )
    fields = spec_fields(job)
    fields.pop("jl_sched")
    data = json.dumps([spec.task, None, [], spec.params], separators=(",", ":"))
    return json.dumps(fields, separators=(",", ":")), data


def definition_fields(workflow_id: str, spec: WorkflowSpec) -> dict[str, str]:
    """The hash fields that describe a workflow's definition (not its run state)."""
    fields_json, data = job_template(workflow_id, spec)
    return {
        "name": spec.name,
        "task": spec.task,
        "queue": spec.queue,
        "params": json.dumps(spec.params, separators=(",", ":")),
        "priority": str(spec.priority),
        "timeout": str(spec.timeout_s),
        "maxRetries": str(spec.max_retries),
        "interval_ms": str(round(spec.interval_s * 1000)) if spec.interval_s else "",
        "cron": spec.cron or "",
        "timezone": spec.timezone,
        "startAt": format_time(spec.start_at) if spec.start_at else "",
        "maxConsecutiveFailures": str(spec.max_consecutive_failures),
        "description": spec.description,
        "overlap": spec.overlap,
        "job_fields": fields_json,
        "data": data,
    }


def decode_workflow(workflow_id: str, h: dict[str, str]) -> Workflow:
    interval_ms = h.get("interval_ms", "")
    spec = WorkflowSpec(
        name=h.get("name", ""),
        task=h.get("task", ""),
        queue=h.get("queue", "default"),
        params=json.loads(h.get("params") or "{}"),
        priority=int(h.get("priority") or 0),
        timeout_s=int(h.get("timeout") or 30),
        max_retries=int(h.get("maxRetries") or 0),
        interval_s=int(interval_ms) / 1000 if interval_ms else None,
        cron=h.get("cron") or None,
        timezone=h.get("timezone") or "UTC",
        start_at=parse_time(h.get("startAt")),
        max_consecutive_failures=int(h.get("maxConsecutiveFailures") or 0),
        description=h.get("description", ""),
        overlap=h.get("overlap") or "allow",
    )
    created = parse_time(h.get("createdAt")) or datetime.now(UTC)
    return Workflow(
        id=workflow_id,
        spec=spec,
        status=WorkflowStatus(h.get("status") or "active"),
        paused_reason=h.get("pausedReason") or None,
        next_run_at=_ms_time(h.get("nextRunAt", "")),
        last_run_at=_ms_time(h.get("lastRunAt", "")),
        last_job_id=h.get("lastJobId") or None,
        run_count=int(h.get("runCount") or 0),
        consecutive_failures=int(h.get("consecutiveFailures") or 0),
        created_at=created,
        updated_at=parse_time(h.get("updatedAt")) or created,
        created_by=h.get("createdBy", ""),
        version=int(h.get("version") or 0),
        anchor_ms=int(h.get("anchor_ms") or 0),
        skipped_runs=int(h.get("skippedRuns") or 0),
    )


class WorkflowStore:
    """Reads and writes of workflow definitions and their schedule."""

    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self.redis = redis
        self.scripts = scripts

    def save(
        self, workflow_id: str, fields: dict[str, str], next_ms: int | None, created_ms: int | None
    ) -> None:
        """Write definition/state fields, bump the version, (re)plan or unplan, and wake schedulers."""
        pipe = self.redis.pipeline(transaction=True)
        mapping: dict[Any, Any] = fields | {"nextRunAt": str(next_ms) if next_ms else ""}
        pipe.hset(keys.workflow(workflow_id), mapping=mapping)
        pipe.hincrby(keys.workflow(workflow_id), "version", 1)
        if created_ms is not None:
            pipe.zadd(keys.WORKFLOWS, {workflow_id: created_ms})
        if next_ms is None:
            pipe.zrem(keys.WORKFLOW_DUE, workflow_id)
        else:
            pipe.zadd(keys.WORKFLOW_DUE, {workflow_id: next_ms})
        pipe.publish(keys.WORKFLOWS_CHANGED, workflow_id)
        pipe.execute()

    def find(self, workflow_id: str) -> Workflow | None:
        raw = self.redis.hgetall(keys.workflow(workflow_id))
        if not raw:
            return None
        return decode_workflow(workflow_id, {_s(k): _s(v) for k, v in raw.items()})

    def all(self) -> list[Workflow]:
        ids = [_s(i) for i in self.redis.zrange(keys.WORKFLOWS, 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in ids:
            pipe.hgetall(keys.workflow(workflow_id))
        return [
            decode_workflow(i, {_s(k): _s(v) for k, v in raw.items()})
            for i, raw in zip(ids, pipe.execute(), strict=True)
            if raw
        ]

    def due(self, until_ms: int, limit: int) -> list[tuple[str, int]]:
        """(workflow id, planned ms) of runs due by `until_ms`, soonest first."""
        rows: Any = self.redis.zrangebyscore(
            keys.WORKFLOW_DUE, "-inf", until_ms, start=0, num=limit, withscores=True
        )
        return [(_s(member), int(score)) for member, score in rows]

    def next_due_ms(self) -> int | None:
        head = self.redis.zrange(keys.WORKFLOW_DUE, 0, 0, withscores=True)
        return int(head[0][1]) if head else None

    def triggers(self, workflow_ids: list[str]) -> dict[str, dict[str, str]]:
        """The trigger fields and version of several workflows, in one round trip."""
        names = ("version", "interval_ms", "anchor_ms", "cron", "timezone", "status")
        pipe = self.redis.pipeline(transaction=False)
        for workflow_id in workflow_ids:
            pipe.hmget(keys.workflow(workflow_id), names)
        return {
            workflow_id: dict(zip(names, (_s(v) for v in values), strict=True))
            for workflow_id, values in zip(workflow_ids, pipe.execute(), strict=True)
        }

    def fire(self, runs: list[Run]) -> list[str]:
        """Fire runs atomically; per run: fired, moved, stale, inactive, duplicate or missing."""
        if not runs:
            return []
        reply = self.scripts.run("fire", [], [json.dumps([r.to_json() for r in runs])])
        return [_s(r) for r in reply]

    def record_manual_run(self, workflow_id: str, job_id: str, now_ms: int) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.workflow(workflow_id), mapping={"lastRunAt": str(now_ms), "lastJobId": job_id})
        pipe.hincrby(keys.workflow(workflow_id), "runCount", 1)
        pipe.execute()

    def heartbeat_scheduler(self, name: str, now_s: float) -> None:
        """Mark scheduler `name` alive (for --check and stats); forget ones silent for an hour."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(keys.SCHEDULERS, {name: now_s})
        pipe.zremrangebyscore(keys.SCHEDULERS, "-inf", now_s - 3600)
        pipe.execute()

    def live_schedulers(self, now_s: float, within_s: float) -> list[str]:
        return [_s(m) for m in self.redis.zrangebyscore(keys.SCHEDULERS, now_s - within_s, "+inf")]

    def forget_scheduler(self, name: str) -> None:
        self.redis.zrem(keys.SCHEDULERS, name)
