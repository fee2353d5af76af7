"""What /metrics reads beyond queue counts: submitted counters, histograms and the scheduler's standing."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from app import keys

# Histogram bucket bounds in ms (the Lua prelude's HIST_BOUNDS is generated from this); `inf` holds the rest.
HIST_BOUNDS_MS: tuple[int, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000)
HIST_BOUNDS_MS += (300_000, 900_000, 3_600_000)
HIST_KINDS = ("duration", "wait", "lag")


@dataclass
class Histogram:
    """Non-cumulative counts per bound (ms) as stored, the overflow count and the sum in ms."""

    buckets: dict[int, int] = field(default_factory=dict)
    overflow: int = 0
    sum_ms: int = 0

    @classmethod
    def decode(cls, raw: dict[bytes | str, bytes | str]) -> Histogram:
        h = cls()
        for k, v in raw.items():
            name = k.decode() if isinstance(k, bytes) else k
            if name == "sum":
                h.sum_ms = int(v)
            elif name == "inf":
                h.overflow = int(v)
            elif name.isdigit():
                h.buckets[int(name)] = int(v)
        return h

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, observations ≤ it) for every bound, then (inf, count)."""
        out, running = [], 0
        for bound in HIST_BOUNDS_MS:
            running += self.buckets.get(bound, 0)
            out.append((bound / 1000, running))
        out.append((float("inf"), running + self.overflow))
        return out

    @property
    def count(self) -> int:
        return sum(self.buckets.values()) + self.overflow


@dataclass
class MetricsReading:
    submitted: dict[str, int]
    histograms: dict[str, dict[str, Histogram]]
    schedulers: int
    next_due_ms: int | None

    def overdue_s(self, now_s: float) -> float:
        """How far past its planned time the most overdue workflow run is (0 when none is overdue)."""
        return 0.0 if self.next_due_ms is None else max(0.0, now_s - self.next_due_ms / 1000)


def read_metrics(redis: Redis, names: list[str], now_s: float, alive_within_s: float) -> MetricsReading:
    """Everything in one pipeline: O(queues) small hashes, whatever the number of jobs."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(keys.SUBMITTED)
    for kind in HIST_KINDS:
        for q in names:
            pipe.hgetall(keys.histogram(kind, q))
    pipe.zcount(keys.SCHEDULERS, now_s - alive_within_s, "+inf")
    pipe.zrange(keys.WORKFLOW_DUE, 0, 0, withscores=True)
    replies = iter(pipe.execute())
    submitted = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in next(replies).items()}
    histograms = {kind: {q: Histogram.decode(next(replies)) for q in names} for kind in HIST_KINDS}
    schedulers = int(next(replies))
    head = next(replies)
    return MetricsReading(submitted, histograms, schedulers, int(head[0][1]) if head else None)
