"""Plans a job listing as ordered segments of sorted sets (rq registries and Jobline's indexes)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from app import keys
from app.errors import InvalidError
from app.models import LISTING_ORDER, TERMINAL, JobFilter, JobStatus, Trigger

ASC, DESC = 1, -1
TERMINAL_ORDER = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class Segment:
    """Sorted sets read as one ordered run; `strip` drops rq's `:execution` suffix from members."""

    keys: tuple[str, ...]
    dir: int
    strip: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "dir": self.dir, "strip": self.strip}


@dataclass(frozen=True)
class Plan:
    """Everything page.lua needs: segments in listing order, count groups and a post-filter."""

    segments: tuple[Segment, ...]
    pending: tuple[Segment, ...]
    running: tuple[Segment, ...]
    post_filter: dict[str, str] | None


def _status_keys(status: JobStatus, queue: str | None, dim: tuple[str, list[str]] | None) -> Segment:
    direction = DESC if status in TERMINAL else ASC
    if dim is not None:
        name, values = dim
        return Segment(tuple(keys.index(name, v, status.value) for v in values), direction)
    assert queue is not None
    if status is JobStatus.PENDING:
        return Segment((keys.index("queue", queue, "pending"),), ASC)
    if status is JobStatus.RUNNING:  # by start time: rq's registry order moves with every heartbeat
        return Segment((keys.index("queue", queue, "running"),), ASC)
    if status is JobStatus.SCHEDULED:
        return Segment((keys.scheduled(queue),), ASC)
    return Segment((keys.terminal(queue, status.value),), DESC)


def _merge(segments: list[Segment]) -> Segment:
    return Segment(tuple(k for s in segments for k in s.keys), segments[0].dir, segments[0].strip)


def _driver(f: JobFilter) -> tuple[str | None, tuple[str, list[str]] | None, dict[str, str]]:
    """Pick the index that narrows the listing most; filters it does not cover become a post-filter."""
    rest: dict[str, str] = {}
    if f.workflow_id is not None:
        triggers = [f.trigger.value] if f.trigger else [t.value for t in Trigger]
        dim = ("wf", [f"{f.workflow_id}:{t}" for t in triggers])
        if f.queue is not None:
            rest["origin"] = f.queue
        if f.task is not None:
            rest["jl_task"] = f.task
        return None, dim, rest
    if f.queue is not None:
        if f.task is not None:
            rest["jl_task"] = f.task
        if f.trigger is not None:
            rest["jl_trig"] = f.trigger.value
        return f.queue, None, rest
    if f.task is not None:
        if f.trigger is not None:
            rest["jl_trig"] = f.trigger.value
        return None, ("task", [f.task]), rest
    triggers = [f.trigger.value] if f.trigger else [t.value for t in Trigger]
    return None, ("trigger", triggers), rest


def plan_listing(f: JobFilter) -> Plan:
    """The segments listing the jobs that match `f`, in the contract's order."""
    queue, dim, rest = _driver(f)

    def seg(status: JobStatus) -> Segment:
        return _status_keys(status, queue, dim)

    if f.status is None:
        terminal = _merge([seg(s) for s in TERMINAL_ORDER])
        segments = (*(seg(s) for s in LISTING_ORDER), terminal)
    else:
        segments = (seg(f.status),)
    return Plan(segments, (seg(JobStatus.PENDING),), (seg(JobStatus.RUNNING),), rest or None)


def page_request(
    plan: Plan,
    limit: int,
    offset: int | None,
    cursor: tuple[int, str, str] | None,
    reads: list[list[str]] | None = None,
) -> str:
    """The JSON request page.lua reads; `reads` are O(1) reads (LLEN, ZCARD, SISMEMBER) to run alongside."""
    req: dict[str, Any] = {
        "segments": [s.to_json() for s in plan.segments],
        "limit": limit,
        "counts": [[s.to_json() for s in plan.pending], [s.to_json() for s in plan.running]],
    }
    if reads:
        req["reads"] = reads
    if plan.post_filter:
        req["filter"] = plan.post_filter
    if cursor is not None:
        req["cursor"] = [cursor[0], cursor[1], cursor[2]]
    else:
        req["offset"] = offset or 0
    return json.dumps(req, separators=(",", ":"))


def encode_cursor(raw: list[Any] | None) -> str | None:
    """The opaque cursor clients get: base64 of [segment, score, member] (1-based segment)."""
    if not raw:
        return None
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, str, str]:
    """Parse a client's cursor; anything malformed is a 400."""
    try:
        padded = text + "=" * (-len(text) % 4)
        seg, score, member = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = float(score)
        if not isinstance(score, str) or math.isnan(value):
            raise ValueError("bad cursor score")
        # bool is an int to Python but not to Lua's `for`; a page.lua error would read as a 503
        if type(seg) is not int or seg < 1 or not isinstance(member, str) or len(member) > 200:
            raise ValueError("bad cursor parts")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidError("Invalid request", {"cursor": ["Malformed cursor."]}) from None
    # Lua's tonumber rejects what float() accepts ("1_000", " 1"): hand page.lua C's %.17g form
    return seg, format(value, ".17g"), member
