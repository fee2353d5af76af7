"""The roster of workers: rq's worker hashes (reads change nothing), and pruning of killed workers."""

from __future__ import annotations

from collections.abc import Iterable

from redis import Redis

from app import keys
from app.models import WorkerInfo
from app.store.codec import parse_time


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _text(h: dict[bytes, bytes], name: str) -> str:
    value = h.get(name.encode())
    return value.decode("utf-8", "replace") if value else ""


def _number(h: dict[bytes, bytes], name: str) -> float:
    try:
        return float(_text(h, name) or 0)
    except ValueError:
        return 0.0


def _info(name: str, h: dict[bytes, bytes]) -> WorkerInfo:
    state = _text(h, "state") or "idle"
    pid = _text(h, "pid")
    return WorkerInfo(
        name=name,
        hostname=_text(h, "hostname"),
        pid=int(pid) if pid.isdigit() else None,
        state={"started": "idle", "busy": "busy", "idle": "idle", "suspended": "suspended"}.get(state, state),
        queues=[q for q in _text(h, "queues").split(",") if q],
        current_job_id=_text(h, "current_job") or None,
        last_heartbeat=parse_time(h.get(b"last_heartbeat")),
        started_at=parse_time(h.get(b"birth")),
        successful_jobs=int(_number(h, "successful_job_count")),
        failed_jobs=int(_number(h, "failed_job_count")),
        total_working_time_s=_number(h, "total_working_time"),
        cpu_percent=_number(h, "jl_cpu"),
        memory_mb=_number(h, "jl_rss_mb"),
    )


def decode_workers(members: list[str], hashes: list[dict[bytes, bytes]]) -> list[WorkerInfo]:
    """Live workers among roster `members` given their hashes (HGETALL): a hash that expired (the
    worker stopped heart-beating) or that records a death is not a live worker."""
    return [
        _info(member.removeprefix(keys.RQ_WORKER), h)
        for member, h in zip(members, hashes, strict=True)
        if h and b"death" not in h
    ]


def live_workers(redis: Redis) -> list[WorkerInfo]:
    """Workers whose hash still exists (it expires when they stop heart-beating) and that did not stop."""
    members = sorted(_str(m) for m in redis.smembers(keys.RQ_WORKERS))
    pipe = redis.pipeline(transaction=False)
    for member in members:
        pipe.hgetall(member)
    return decode_workers(members, pipe.execute())


def prune_dead(redis: Redis, queues: Iterable[str] = ()) -> int:
    """Drop roster entries (the set of all workers and each queue's set) of workers whose hash
    expired: killed workers never unregister. `queues` adds to the queues Jobline knows of."""
    names = sorted({_str(q) for q in redis.smembers(keys.QUEUES)} | set(queues))
    sets = [keys.RQ_WORKERS, *(keys.workers_of_queue(q) for q in names)]
    pipe = redis.pipeline(transaction=False)
    for key in sets:
        pipe.smembers(key)
    members_of = {key: {_str(m) for m in got} for key, got in zip(sets, pipe.execute(), strict=True)}
    every = sorted(set().union(*members_of.values()))
    for member in every:
        pipe.exists(member)
    dead = {m for m, alive in zip(every, pipe.execute(), strict=True) if not alive}
    for key, members in members_of.items():
        if members & dead:
            pipe.srem(key, *sorted(members & dead))
    pipe.execute()
    return len(dead)
