"""Statistics and health: counts straight from rq's registries, throughput from bucketed counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import RedisError

from app.errors import UnavailableError
from app.settings import Settings
from app.store.queues import STATUSES, QueueStore, Snapshot
from app.store.roster import live_workers

if TYPE_CHECKING:
    import psutil

UNHEALTHY = {"status": "unhealthy", "problems": ["Redis is unreachable"]}
_PROCESS: psutil.Process | None = None


def _own_process() -> psutil.Process:
    """This process, kept so that cpu_percent() measures since the previous call (psutil is imported on
    first use: an API process that never reports resources keeps ~0.9 MB)."""
    import psutil

    global _PROCESS
    if _PROCESS is None:
        _PROCESS = psutil.Process()
    return _PROCESS


class StatsService:
    """Answers /jobs/stats: what is stored now, what went through, and whether anything looks stuck."""

    def __init__(
        self, settings: Settings, redis: Redis, queues: QueueStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.queues = queues
        self.clock = clock

    def stats(self, visible: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The contract's stats; Redis down raises UnavailableError (503) whose details say unhealthy.

        With `visible` (a queue-scoped token), counts, lifetime totals, workers and health cover only
        the queues it may see; throughput and avgProcessingTime stay system-wide (no per-queue buckets).
        """
        now_s = self.clock()
        try:
            snap = self.queues.snapshot(self.settings.queues, stats=True, now_s=now_s)
        except RedisError as e:
            raise UnavailableError(
                "Redis is unreachable; try again shortly", {"health": dict(UNHEALTHY)}
            ) from e
        if visible is not None:
            snap = snap.restricted_to(visible)
        totals = {s: sum(c[s] for c in snap.counts.values()) for s in (*STATUSES, "retrying")}
        tp = dict(snap.throughput)
        body: dict[str, Any] = dict(totals)
        body["total"] = sum(totals[s] for s in STATUSES)
        body["workers"] = len(snap.workers)
        body["queueType"] = "redis"
        body["avgProcessingTime"] = tp.pop("avgProcessingTime")
        body["throughput"] = tp
        body["lifetime"] = {
            s: sum(v for k, v in snap.lifetime.items() if k.rpartition(":")[2] == s)
            for s in ("completed", "failed", "canceled")
        }
        body["health"] = self.health(snap, now_s)
        return body

    def resources(self) -> dict[str, float]:
        """CPU percent and resident memory (MB) of the live workers and this API process, summed."""
        workers = live_workers(self.redis)
        own = _own_process()
        cpu = own.cpu_percent(None) + sum(w.cpu_percent for w in workers)
        memory = own.memory_info().rss / (1024 * 1024) + sum(w.memory_mb for w in workers)
        return {"cpuPercent": round(cpu, 1), "memoryMb": round(memory, 1)}

    def health(self, snap: Snapshot, now_s: float) -> dict[str, Any]:
        """degraded when a queue that is not paused has pending jobs no live worker serves, or when a
        pending job has waited longer than JOBLINE_WAIT_ALERT."""
        served = {q for w in snap.workers for q in w.queues}
        active = [q for q in snap.names if q not in snap.paused]
        unserved = [q for q in active if snap.counts[q]["pending"] and q not in served]
        waits = {
            q: max(0, round(now_s * 1000 - ms))
            for q in active
            if (ms := snap.oldest_pending_ms.get(q)) is not None
        }
        alert_ms = self.settings.wait_alert_s * 1000
        waiting = [q for q, wait in waits.items() if wait > alert_ms]
        problems = [f"queue {q!r} has pending jobs and no worker" for q in unserved]
        problems += [
            f"queue {q!r}: a pending job has waited {waits[q] // 1000} s (alert at "
            f"{self.settings.wait_alert_s:g} s)"
            for q in waiting
        ]
        return {
            "status": "degraded" if problems else "healthy",
            "problems": problems,
            "unservedQueues": unserved,
            "longestWaitMs": max(waits.values(), default=0),
            "pausedQueues": sorted(snap.paused),
        }
