"""Queues in Redis: names, pause flags, and exact counts per status read from rq's lists and registries."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from redis import Redis

from app import keys
from app.models import PRIORITY_MAX, PRIORITY_MIN

STATUSES = ("pending", "running", "scheduled", "completed", "failed", "canceled")
PRIORITY_SPAN = 10**13  # must match lib.lua: pending order score = (5 - priority) * span + enqueue ms
GRAINS = {"10s": 10, "1m": 60, "1h": 3600}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class QueueStore:
    """Reads and writes that concern whole queues."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def names(self, configured: Iterable[str]) -> list[str]:
        seen = {_str(m) for m in self.redis.smembers(keys.QUEUES)}
        return sorted(seen | set(configured))

    def exists(self, name: str) -> bool:
        return bool(self.redis.sismember(keys.QUEUES, name))

    def paused(self) -> set[str]:
        return {_str(m) for m in self.redis.smembers(keys.PAUSED)}

    def set_paused(self, name: str, paused: bool) -> None:
        pipe = self.redis.pipeline(transaction=True)
        if paused:
            pipe.sadd(keys.PAUSED, name)
        else:
            pipe.srem(keys.PAUSED, name)
            pipe.lpush(keys.wake(name), "1")
            pipe.ltrim(keys.wake(name), 0, 0)
        pipe.sadd(keys.QUEUES, name)
        pipe.execute()

    def counts(self, names: list[str]) -> dict[str, dict[str, int]]:
        """Counts per queue and status, plus waiting retries: one pipeline, O(1) per count."""
        pipe = self.redis.pipeline(transaction=False)
        priorities = range(PRIORITY_MAX, PRIORITY_MIN - 1, -1)
        for q in names:
            for p in priorities:
                pipe.llen(keys.queue_list(q, p))
            pipe.zcard(keys.started(q))
            pipe.zcard(keys.scheduled(q))
            for status in ("completed", "failed", "canceled"):
                pipe.zcard(keys.terminal(q, status))
            pipe.zcard(keys.retrying(q))
        replies = iter(pipe.execute())
        out: dict[str, dict[str, int]] = {}
        for q in names:
            pending = sum(next(replies) for _ in priorities)
            rest = [next(replies) for _ in range(6)]
            out[q] = dict(zip(STATUSES, [pending, *rest[:5]], strict=True)) | {"retrying": rest[5]}
        return out

    def oldest_pending_ms(self, names: list[str]) -> dict[str, int | None]:
        """Enqueue time (epoch ms) of the next job each queue will run, if any."""
        pipe = self.redis.pipeline(transaction=False)
        for q in names:
            pipe.zrange(keys.index("queue", q, "pending"), 0, 0, withscores=True)
        out: dict[str, int | None] = {}
        for q, head in zip(names, pipe.execute(), strict=True):
            out[q] = int(head[0][1] % PRIORITY_SPAN) if head else None
        return out

    def lifetime(self) -> dict[str, int]:
        """Jobs ever finished, per `{queue}:{status}`."""
        return {_str(k): int(v) for k, v in self.redis.hgetall(keys.LIFETIME).items()}

    def throughput(self, now_s: float | None = None) -> dict[str, Any]:
        """Finished jobs in the last minute, hour and day, and the mean duration over the last hour."""
        now_s = time.time() if now_s is None else now_s
        windows = {"lastMinute": ("10s", 6), "lastHour": ("1m", 60), "lastDay": ("1h", 24)}
        pipe = self.redis.pipeline(transaction=False)
        for grain, count in windows.values():
            size = GRAINS[grain]
            current = int(now_s // size)
            for bucket in range(current - count + 1, current + 1):
                pipe.hgetall(keys.throughput(grain, bucket))
        replies = iter(pipe.execute())
        out: dict[str, Any] = {}
        hour_timed = hour_ms = 0
        for name, (grain, count) in windows.items():
            total = 0
            for _ in range(count):
                h = {k.decode(): int(v) for k, v in next(replies).items()}
                total += h.get("completed", 0) + h.get("failed", 0)
                if grain == "1m":
                    hour_timed += h.get("timed", 0)
                    hour_ms += h.get("dur_ms", 0)
            out[name] = total
        out["avgProcessingTime"] = round(hour_ms / hour_timed) if hour_timed else 0
        return out
