"""Queues in Redis: names, pause flags, and exact counts per status read from rq's lists and registries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from app import keys
from app.models import PRIORITY_MAX, PRIORITY_MIN, WorkerInfo
from app.store.roster import decode_workers
from app.store.scripts import Scripts

STATUSES = ("pending", "running", "scheduled", "completed", "failed", "canceled")
PRIORITY_SPAN = 10**13  # must match lib.lua: pending order score = (5 - priority) * span + enqueue ms
PRIORITIES = range(PRIORITY_MAX, PRIORITY_MIN - 1, -1)
GRAINS = {"10s": 10, "1m": 60, "1h": 3600}
WINDOWS = {"lastMinute": ("10s", 6), "lastHour": ("1m", 60), "lastDay": ("1h", 24)}
COUNT_COMMANDS = len(PRIORITIES) + 6
BULK_BATCH = 500


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decoded(read: list[str], reply: Any) -> Any:
    """A reply of reads.lua as redis-py would have parsed the same command's."""
    if read[0] == "HGETALL":
        return dict(zip(reply[::2], reply[1::2], strict=True))
    if read[0] == "ZRANGEBYSCORE" and "WITHSCORES" in read:
        return [(reply[i], float(reply[i + 1])) for i in range(0, len(reply), 2)]
    return reply


@dataclass
class Snapshot:
    """Queues, their counts and the live workers, read in two round trips; stats fields when asked."""

    names: list[str]
    paused: set[str]
    counts: dict[str, dict[str, int]]
    workers: list[WorkerInfo]
    lifetime: dict[str, int] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    oldest_pending_ms: dict[str, int | None] = field(default_factory=dict)

    def restricted_to(self, visible: Callable[[str], bool]) -> Snapshot:
        """The part a queue-scoped caller may see: its queues, their totals and the workers serving them."""
        names = [q for q in self.names if visible(q)]
        return Snapshot(
            names=names,
            paused={q for q in self.paused if visible(q)},
            counts={q: self.counts[q] for q in names},
            workers=[w for w in self.workers if any(visible(q) for q in w.queues)],
            lifetime={k: v for k, v in self.lifetime.items() if visible(k.rpartition(":")[0])},
            throughput=self.throughput,
            oldest_pending_ms={q: v for q, v in self.oldest_pending_ms.items() if visible(q)},
        )


def register_names(redis: Redis, names: Iterable[str]) -> None:
    """Make queues known (listed, pausable) before their first job: a worker serving them says so."""
    names = list(names)
    if names:
        redis.sadd(keys.QUEUES, *names)


class QueueStore:
    """Reads and writes that concern whole queues."""

    def __init__(self, redis: Redis, scripts: Scripts | None = None) -> None:
        self.redis = redis
        self.scripts = scripts or Scripts(redis)

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

    # --- reads in one call --------------------------------------------------------------------------------
    def read(self, reads: list[list[str]]) -> list[Any]:
        """The answers to `reads` (cheap reads, see reads.lua) in one round trip and from one moment,
        decoded as redis-py decodes them (HGETALL: a dict; ZRANGEBYSCORE ... WITHSCORES: (member, score))."""
        if not reads:
            return []
        replies = self.scripts.run("reads", [], [json.dumps(reads, separators=(",", ":"))])
        return [_decoded(r, reply) for r, reply in zip(reads, replies, strict=True)]

    # --- counts ---------------------------------------------------------------------------------------
    @staticmethod
    def _count_reads(q: str) -> list[list[str]]:
        """The O(1) reads behind one queue's counts, in `_read_counts` order (one list per priority,
        then the registries and the waiting retries)."""
        reads = [["LLEN", keys.queue_list(q, p)] for p in PRIORITIES]
        reads += [["ZCARD", keys.started(q)], ["ZCARD", keys.scheduled(q)]]
        reads += [["ZCARD", keys.terminal(q, status)] for status in ("completed", "failed", "canceled")]
        return [*reads, ["ZCARD", keys.retrying(q)]]

    @staticmethod
    def _read_counts(replies: Any) -> dict[str, int]:
        pending = sum(next(replies) for _ in PRIORITIES)
        rest = [next(replies) for _ in range(6)]
        return dict(zip(STATUSES, [pending, *rest[:5]], strict=True)) | {"retrying": rest[5]}

    @classmethod
    def state_reads(cls, name: str) -> list[list[str]]:
        """The O(1) reads behind `queue_state`, for a script to run alongside its own work (page.lua)."""
        return [["SISMEMBER", keys.QUEUES, name], ["SISMEMBER", keys.PAUSED, name], *cls._count_reads(name)]

    def read_state(self, values: list[int]) -> tuple[bool, bool, dict[str, int]]:
        """(known, paused, counts) from the answers to `state_reads(name)`."""
        replies = iter(values)
        known, paused = next(replies), next(replies)
        return bool(known), bool(paused), self._read_counts(replies)

    def queue_state(self, name: str, configured: Iterable[str]) -> tuple[bool, bool, dict[str, int]]:
        """(exists, paused, counts) of one queue in one round trip."""
        known, paused, counts = self.read_state(self.read(self.state_reads(name)))
        return known or name in configured, paused, counts

    # --- everything at once -----------------------------------------------------------------------------
    def snapshot(
        self, configured: Iterable[str], stats: bool = False, now_s: float | None = None
    ) -> Snapshot:
        """Queues, pause flags, counts and live workers (and, with `stats`, lifetime, throughput and
        the oldest pending job per queue) in two round trips, whatever the number of jobs."""
        first = self.redis.pipeline(transaction=False)
        first.smembers(keys.QUEUES)
        first.smembers(keys.PAUSED)
        first.smembers(keys.RQ_WORKERS)
        if stats:
            first.hgetall(keys.LIFETIME)
        known, paused_raw, members_raw, *rest = first.execute()
        names = sorted({_str(m) for m in known} | set(configured))
        members = sorted(_str(m) for m in members_raw)
        reads = [r for q in names for r in self._count_reads(q)]
        reads += [["HGETALL", member] for member in members]
        if stats:
            reads += [r for q in names for r in self._head_reads(q)]
            reads += self._throughput_reads(time.time() if now_s is None else now_s)
        replies = iter(self.read(reads))
        snap = Snapshot(
            names=names,
            paused={_str(m) for m in paused_raw},
            counts={q: self._read_counts(replies) for q in names},
            workers=decode_workers(members, [next(replies) for _ in members]),
        )
        if stats:
            snap.lifetime = {_str(k): int(v) for k, v in rest[0].items()}
            snap.oldest_pending_ms = {q: self._read_heads(replies) for q in names}
            snap.throughput = self._read_throughput(replies)
        return snap

    @staticmethod
    def _head_reads(q: str) -> list[list[str]]:
        """The first job of each priority band of the pending index (requeued-at-front ones excluded)."""
        ix = keys.index("queue", q, "pending")
        return [
            ["ZRANGEBYSCORE", ix, f"({base}", f"({base + PRIORITY_SPAN}", "WITHSCORES", "LIMIT", "0", "1"]
            for base in ((5 - p) * PRIORITY_SPAN for p in PRIORITIES)
        ]

    @staticmethod
    def _read_heads(replies: Any) -> int | None:
        times = [int(head[0][1] % PRIORITY_SPAN) for head in (next(replies) for _ in PRIORITIES) if head]
        return min(times) if times else None

    # --- throughput -------------------------------------------------------------------------------------
    @staticmethod
    def _throughput_reads(now_s: float) -> list[list[str]]:
        reads = []
        for grain, count in WINDOWS.values():
            current = int(now_s // GRAINS[grain])
            reads += [["HGETALL", keys.throughput(grain, b)] for b in range(current - count + 1, current + 1)]
        return reads

    @staticmethod
    def _read_throughput(replies: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        hour_timed = hour_ms = 0
        for name, (grain, count) in WINDOWS.items():
            total = 0
            for _ in range(count):
                h = {_str(k): int(v) for k, v in next(replies).items()}
                total += h.get("completed", 0) + h.get("failed", 0)
                if grain == "1m":
                    hour_timed += h.get("timed", 0)
                    hour_ms += h.get("dur_ms", 0)
            out[name] = total
        out["avgProcessingTime"] = round(hour_ms / hour_timed) if hour_timed else 0
        return out

    # --- bulk actions -----------------------------------------------------------------------------------
    def bulk(self, action: str, name: str, status: str, batch: int = BULK_BATCH) -> int:
        """Purge or retry every job of one queue and status, in atomic batches of `batch` jobs.

        A purge goes on until the status is empty (jobs arriving meanwhile go too, within a bound);
        a retry stops once it has looked at as many jobs as there were at the start, so a job that
        fails again meanwhile is not retried twice.
        """
        done_total = seen_total = 0
        initial: int | None = None
        rounds = 0
        while True:
            done, seen, remaining = (
                int(x) for x in self.scripts.run("bulk", [], [action, name, status, batch])
            )
            done_total += done
            seen_total += seen
            rounds += 1
            if initial is None:
                initial = seen + remaining
            if seen < batch:
                return done_total
            if action == "retry" and seen_total >= initial:
                return done_total
            if rounds > initial // batch + 10:
                return done_total
