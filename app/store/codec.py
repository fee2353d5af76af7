"""Job hashes in Redis <-> Job models: rq's fields (status, data, timestamps) plus Jobline's `jl_*` fields."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

from app.models import FROM_RQ_STATUS, Attempt, Job, JobSpec, JobStatus, Trigger

RQ_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_TRACE_LINES = 60
MAX_TRACE_CHARS = 8000


class BadJobData(ValueError):
    """A job hash whose `data` is not Jobline's JSON (pickle planted in Redis, corruption...)."""


def format_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(RQ_TIME_FORMAT)


def parse_time(raw: bytes | str | None) -> datetime | None:
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        # fromisoformat reads rq's `...%fZ` form too, and is ~30x faster than strptime (pages decode many)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    try:
        return datetime.strptime(text, RQ_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None


def encode_data(task: str, params: dict[str, Any]) -> bytes:
    """rq's `data` field as its JSONSerializer writes it: zlib(JSON [func_name, instance, args, kwargs])."""
    return zlib.compress(json.dumps([task, None, [], params], separators=(",", ":")).encode())


def decode_data(raw: bytes | None) -> tuple[str, dict[str, Any]]:
    """(task, params) from rq's `data`; anything but Jobline's JSON raises BadJobData (never unpickled)."""
    if not raw:
        raise BadJobData("job has no data")
    try:
        text = zlib.decompress(raw)
    except zlib.error:
        text = raw
    try:
        func, _instance, args, kwargs = json.loads(text)
    except (ValueError, TypeError, UnicodeDecodeError) as e:
        raise BadJobData("job data is not JSON (refusing to deserialize it)") from e
    if not isinstance(func, str) or args or not isinstance(kwargs, dict):
        raise BadJobData("job data does not name a task with keyword parameters")
    return func, kwargs


def spec_fields(spec: JobSpec) -> dict[str, str]:
    """The hash fields a submit writes (times and status are set by the script, with Redis's clock)."""
    fields = {
        "origin": spec.queue,
        "timeout": str(spec.timeout_s),
        "description": spec.description,
        "jl_task": spec.task,
        "jl_pri": str(spec.priority),
        "jl_maxr": str(spec.max_retries),
        "jl_retry": "0",
        "jl_attempts": "0",
        "jl_actor": spec.actor,
        "jl_trig": spec.trigger.value,
        "jl_wf": spec.workflow_id or "",
        "jl_wfn": spec.workflow_name or "",
        "jl_title": spec.title,
        "jl_sched": format_time(spec.scheduled_at) if spec.scheduled_at else "",
    }
    if spec.input_data is not None:
        fields["jl_input"] = json.dumps(spec.input_data, separators=(",", ":"))
    return fields


def _text(h: dict[bytes, bytes], name: str) -> str:
    value = h.get(name.encode())
    return value.decode("utf-8", "replace") if value else ""


def _json(h: dict[bytes, bytes], name: str, default: Any = None) -> Any:
    raw = h.get(name.encode())
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _int(h: dict[bytes, bytes], name: str, default: int = 0) -> int:
    try:
        return int(float(_text(h, name) or default))
    except ValueError:
        return default


def _history(
    h: dict[bytes, bytes], status: JobStatus, started: datetime | None, ended: datetime | None
) -> list[Attempt]:
    raw = _json(h, "jl_hist", []) if b"jl_hist" in h else []
    entries = raw if isinstance(raw, list) else []  # Redis's cjson writes an empty list as {}
    history = [
        Attempt(
            attempt=int(e.get("attempt", 0)),
            status=str(e.get("status", "")),
            error=e.get("error"),
            worker_id=e.get("workerId") or None,
            started_at=parse_time(e.get("startedAt")),
            completed_at=parse_time(e.get("completedAt")),
        )
        for e in entries
        if isinstance(e, dict)
    ]
    if status.terminal and started is not None:
        history.append(
            Attempt(
                attempt=_int(h, "jl_attempts", 1),
                status=status.value,
                error=_text(h, "jl_err") or None,
                worker_id=_text(h, "worker_name") or None,
                started_at=started,
                completed_at=ended,
            )
        )
    return history[-25:]


def _task_and_params(h: dict[bytes, bytes]) -> tuple[str, dict[str, Any]]:
    try:
        return decode_data(h.get(b"data"))
    except BadJobData:
        return _text(h, "jl_task"), {}


def _progress(h: dict[bytes, bytes]) -> float | None:
    raw = _text(h, "jl_prog")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def decode_job(job_id: str, h: dict[bytes, bytes]) -> Job:
    """The Job model of a raw job hash (HGETALL)."""
    status = FROM_RQ_STATUS.get(_text(h, "status"), JobStatus.PENDING)
    task, params = _task_and_params(h)
    created = parse_time(h.get(b"created_at")) or datetime.now(UTC)
    trigger = Trigger.AUTOMATIC if _text(h, "jl_trig") == "AUTOMATIC" else Trigger.MANUAL
    started, ended = parse_time(h.get(b"started_at")), parse_time(h.get(b"ended_at"))
    return Job(
        id=job_id,
        queue=_text(h, "origin"),
        task=task,
        status=status,
        params=params,
        title=_text(h, "jl_title"),
        description=_text(h, "description"),
        actor=_text(h, "jl_actor"),
        trigger=trigger,
        workflow_id=_text(h, "jl_wf") or None,
        workflow_name=_text(h, "jl_wfn") or None,
        priority=_int(h, "jl_pri"),
        retry_count=_int(h, "jl_retry"),
        max_retries=_int(h, "jl_maxr"),
        timeout_s=_int(h, "timeout", 30),
        progress=_progress(h),
        current_step=_text(h, "jl_step") or None,
        result=_json(h, "result") if status is JobStatus.COMPLETED else None,
        error=_text(h, "jl_err") or None,
        stacktrace=_json(h, "jl_trace") or None,
        worker_id=_text(h, "worker_name") or None,
        created_at=created,
        scheduled_at=parse_time(h.get(b"jl_sched")),
        started_at=started,
        completed_at=ended if status.terminal else None,
        updated_at=parse_time(h.get(b"jl_upd")) or ended or created,
        history=_history(h, status, started, ended),
        input_data=_json(h, "jl_input"),
        run_at=_float_or_none(_text(h, "jl_runat")),
    )


def _float_or_none(raw: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(raw), UTC) if raw else None
    except ValueError:
        return None


def cap_trace(lines: list[str]) -> list[str]:
    """Keep the end of a traceback (where the error is) within a bounded size."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-MAX_TRACE_LINES:]):
        size += len(line)
        if size > MAX_TRACE_CHARS:
            kept.append("... (earlier frames cut)")
            break
        kept.append(line.rstrip("\n"))
    return list(reversed(kept))
