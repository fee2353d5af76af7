"""The job-change stream in Redis: blocking reads for the shared reader, snapshots and replays by entry id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from redis import Redis

from app import keys
from app.models import FROM_RQ_STATUS, ChangeEvent, JobStatus
from app.store.codec import parse_time

EMPTY_ID = "0-0"
STATE_FIELDS = ("status", "origin", "jl_prog", "jl_step", "jl_upd", "ended_at", "created_at")


def _str(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable pair; a malformed id raises ValueError."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def valid_entry_id(raw: str | None) -> bool:
    if not raw or len(raw) > 41:
        return False
    try:
        entry_key(raw)
    except ValueError:
        return False
    return True


def _progress(raw: str) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def decode_event(entry_id: bytes | str, raw: dict[Any, Any]) -> ChangeEvent:
    """A ChangeEvent from one entry of the events stream (fields id, queue, status, progress, step, ts)."""
    f = {_str(k): _str(v) for k, v in raw.items()}
    return ChangeEvent(
        entry_id=_str(entry_id),
        job_id=f.get("id", ""),
        queue=f.get("queue", ""),
        status=f.get("status", ""),
        progress=_progress(f.get("progress", "")),
        current_step=f.get("step") or None,
        timestamp=parse_time(f.get("ts")) or datetime.now(UTC),
    )


@dataclass(frozen=True)
class LogNotice:
    """A batch of log lines was appended to a job's log; `next_offset` follows its last line."""

    job_id: str
    next_offset: int


@dataclass(frozen=True)
class Replay:
    """Events after some entry id; `complete` is False when older entries were already trimmed away."""

    events: list[ChangeEvent]
    last_id: str
    complete: bool


class EventStore:
    """Reads of the change stream (keys.EVENTS, written by the Lua scripts) and of the log feed."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def tail_ids(self) -> dict[str, str]:
        """The last entry id of each stream the shared reader follows ('0-0' for an empty one)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrevrange(keys.EVENTS, count=1)
        pipe.xrevrange(keys.LOG_FEED, count=1)
        events, feed = cast(list[Any], pipe.execute())
        return {
            keys.EVENTS: _str(events[0][0]) if events else EMPTY_ID,
            keys.LOG_FEED: _str(feed[0][0]) if feed else EMPTY_ID,
        }

    def last_id(self) -> str:
        """The id of the newest change event ('0-0' when there is none)."""
        last: Any = self.redis.xrevrange(keys.EVENTS, count=1)
        return _str(last[0][0]) if last else EMPTY_ID

    def read(
        self, after: dict[str, str], block_ms: int, count: int
    ) -> tuple[list[ChangeEvent], list[LogNotice], dict[str, str]]:
        """Block until either stream has entries after `after`; returns them and the ids to read on from."""
        reply: Any = self.redis.xread(after, count=count, block=block_ms) or []  # type: ignore[arg-type]
        events: list[ChangeEvent] = []
        notices: list[LogNotice] = []
        positions = dict(after)
        for stream, entries in reply:
            name = _str(stream)
            if not entries:
                continue
            positions[name] = _str(entries[-1][0])
            if name == keys.EVENTS:
                events.extend(decode_event(entry_id, raw) for entry_id, raw in entries)
            else:
                notices.extend(_notice(raw) for _, raw in entries)
        return events, notices, positions

    def state(self, job_id: str) -> ChangeEvent | None:
        """The job's current state as a change event whose id is the last one it includes (one round trip).

        Reads only the few fields a stream shows, never the params or result of the job.
        """
        pipe = self.redis.pipeline(transaction=True)
        pipe.hmget(keys.job(job_id), STATE_FIELDS)
        pipe.xrevrange(keys.EVENTS, count=1)
        values, last = cast(list[Any], pipe.execute())
        if values[0] is None:
            return None
        f = dict(zip(STATE_FIELDS, (_str(v) if v is not None else "" for v in values), strict=True))
        status = FROM_RQ_STATUS.get(f["status"], JobStatus.PENDING)
        return ChangeEvent(
            entry_id=_str(last[0][0]) if last else EMPTY_ID,
            job_id=job_id,
            queue=f["origin"],
            status=status.value,
            progress=_progress(f["jl_prog"]),
            current_step=f["jl_step"] or None,
            timestamp=_updated_at(f),
        )

    def since(self, after_id: str, until_id: str, job_id: str | None = None, batch: int = 500) -> Replay:
        """Events after `after_id` up to `until_id` (of one job, or all); incomplete if some were trimmed."""
        first: Any = self.redis.xrange(keys.EVENTS, count=1)
        complete = not first or entry_key(_str(first[0][0])) <= entry_key(after_id)
        events: list[ChangeEvent] = []
        cursor = after_id
        while entry_key(cursor) < entry_key(until_id):
            entries: Any = self.redis.xrange(keys.EVENTS, min="(" + cursor, max=until_id, count=batch)
            if not entries:
                break
            cursor = _str(entries[-1][0])
            for entry_id, raw in entries:
                event = decode_event(entry_id, raw)
                if job_id is None or event.job_id == job_id:
                    events.append(event)
        return Replay(events, until_id, complete)


def _updated_at(f: dict[str, str]) -> datetime:
    """As the Job's updatedAt: the last change, or the end of an ended job (which drops jl_upd)."""
    for name in ("jl_upd", "ended_at", "created_at"):
        when = parse_time(f[name])
        if when is not None:
            return when
    return datetime.now(UTC)


def _notice(raw: dict[Any, Any]) -> LogNotice:
    f = {_str(k): _str(v) for k, v in raw.items()}
    try:
        next_offset = int(f.get("next", "0"))
    except ValueError:
        next_offset = 0
    return LogNotice(f.get("id", ""), next_offset)
