"""Statistics and health: counts straight from rq's registries, throughput from bucketed counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil
from redis import Redis

from app.settings import Settings
from app.store.queues import STATUSES, QueueStore
from app.store.roster import live_workers

WAIT_ALERT_S = 300
_PROCESS: psutil.Process | None = None


def _own_process() -> psutil.Process:
    """This process, kept so that cpu_percent() measures since the previous call."""
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

    def stats(self) -> dict[str, Any]:
        names = self.queues.names(self.settings.queues)
        counts = self.queues.counts(names)
        workers = live_workers(self.redis)
        totals = {s: sum(c[s] for c in counts.values()) for s in (*STATUSES, "retrying")}
        lifetime = self.queues.lifetime()
        tp = self.queues.throughput(self.clock())
        body: dict[str, Any] = dict(totals)
        body["total"] = sum(totals[s] for s in STATUSES)
        body["workers"] = len(workers)
        body["queueType"] = "redis"
        body["avgProcessingTime"] = tp.pop("avgProcessingTime")
        body["throughput"] = tp
        body["lifetime"] = {
            s: sum(v for k, v in lifetime.items() if k.endswith(":" + s))
            for s in ("completed", "failed", "canceled")
        }
        body["health"] = self.health(names, counts, workers)
        return body

    def resources(self) -> dict[str, float]:
        """CPU percent and resident memory (MB) of the live workers and this API process, summed."""
        workers = live_workers(self.redis)
        own = _own_process()
        cpu = own.cpu_percent(None) + sum(w.cpu_percent for w in workers)
        memory = own.memory_info().rss / (1024 * 1024) + sum(w.memory_mb for w in workers)
        return {"cpuPercent": round(cpu, 1), "memoryMb": round(memory, 1)}

    def health(
        self, names: list[str], counts: dict[str, dict[str, int]], workers: list[Any]
    ) -> dict[str, Any]:
        """degraded when a queue has pending jobs no worker serves, or its next job waited too long."""
        paused = self.queues.paused()
        served = {q for w in workers for q in w.queues}
        unserved = [q for q in names if counts[q]["pending"] and q not in served and q not in paused]
        heads = self.queues.oldest_pending_ms([q for q in names if q not in paused])
        now_ms = self.clock() * 1000
        waiting = [q for q, ms in heads.items() if ms and now_ms - ms > WAIT_ALERT_S * 1000]
        problems = [f"queue {q!r} has pending jobs and no worker" for q in unserved]
        problems += [f"queue {q!r}: the next job has waited over {WAIT_ALERT_S} s" for q in waiting]
        return {
            "status": "degraded" if problems else "healthy",
            "problems": problems,
            "pausedQueues": sorted(paused),
        }
