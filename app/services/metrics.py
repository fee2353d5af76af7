"""Prometheus text exposition: jobs by queue and status, submitted and finished counters, job duration,
queue wait and scheduler lag histograms, workers, schedulers."""

from __future__ import annotations

import math
import time
from typing import Any

from redis.exceptions import RedisError

from app.store.metrics import Histogram, MetricsReading, read_metrics
from app.store.queues import STATUSES, Snapshot

SCHEDULER_ALIVE_WITHIN_S = 15.0  # three scheduler heartbeats (scheduler/loop.py)

HISTOGRAMS = {
    "duration": ("jobline_job_duration_seconds", "Run time of each attempt (completed, failed, timed out)."),
    "wait": ("jobline_queue_wait_seconds", "Time from ready (pending) to started, per attempt."),
    "lag": ("jobline_scheduler_lag_seconds", "Enqueue time minus planned time of each automatic run."),
}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _line(name: str, value: float, **labels: str) -> str:
    return f"{name}{_labels(labels)} {_num(value)}"


def _header(lines: list[str], name: str, kind: str, text: str) -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _histogram(lines: list[str], name: str, queue: str, h: Histogram) -> None:
    for le, count in h.cumulative():
        lines.append(f'{name}_bucket{{queue="{_escape(queue)}",le="{_num(le)}"}} {count}')
    lines.append(_line(f"{name}_sum", h.sum_ms / 1000, queue=queue))
    lines.append(_line(f"{name}_count", h.count, queue=queue))


def render_metrics(svc: Any, now_s: float | None = None) -> str:
    """The metrics page; when Redis is down it says so (jobline_redis_up 0) instead of failing."""
    now_s = time.time() if now_s is None else now_s
    lines: list[str] = []
    _header(lines, "jobline_redis_up", "gauge", "Whether Redis answered.")
    try:
        snap = svc.extra["queues"].snapshot(svc.settings.queues, stats=True, now_s=now_s)
        reading = read_metrics(svc.redis, snap.names, now_s, SCHEDULER_ALIVE_WITHIN_S)
    except RedisError:
        return "\n".join([*lines, _line("jobline_redis_up", 0), ""])
    lines.append(_line("jobline_redis_up", 1))
    _job_families(lines, snap, reading)
    _queue_families(lines, snap, now_s)
    _process_families(lines, snap, reading, now_s)
    return "\n".join(lines) + "\n"


def _job_families(lines: list[str], snap: Snapshot, reading: MetricsReading) -> None:
    _header(lines, "jobline_jobs", "gauge", "Jobs stored now, by queue and status.")
    for q in snap.names:
        for status in STATUSES:
            lines.append(_line("jobline_jobs", snap.counts[q][status], queue=q, status=status))
    _header(lines, "jobline_jobs_submitted_total", "counter", "Jobs created (API and workflow runs).")
    for q in sorted(set(snap.names) | set(reading.submitted)):
        lines.append(_line("jobline_jobs_submitted_total", reading.submitted.get(q, 0), queue=q))
    _header(lines, "jobline_jobs_finished_total", "counter", "Jobs that reached a final status.")
    for key, value in sorted(snap.lifetime.items()):
        q, _, status = key.rpartition(":")
        lines.append(_line("jobline_jobs_finished_total", value, queue=q, status=status))
    for kind, (name, text) in HISTOGRAMS.items():
        _header(lines, name, "histogram", text)
        for q in snap.names:
            h = reading.histograms[kind][q]
            if h.count or kind != "lag":  # scheduler lag only where workflows run
                _histogram(lines, name, q, h)


def _queue_families(lines: list[str], snap: Snapshot, now_s: float) -> None:
    _header(lines, "jobline_queue_paused", "gauge", "Whether a queue is paused.")
    for q in snap.names:
        lines.append(_line("jobline_queue_paused", 1 if q in snap.paused else 0, queue=q))
    name = "jobline_queue_oldest_pending_seconds"
    _header(lines, name, "gauge", "How long the oldest pending job has waited.")
    for q in snap.names:
        oldest = snap.oldest_pending_ms.get(q)
        age = max(0.0, now_s - oldest / 1000) if oldest else 0.0
        lines.append(_line(name, round(age, 3), queue=q))


def _process_families(lines: list[str], snap: Snapshot, reading: MetricsReading, now_s: float) -> None:
    _header(lines, "jobline_workers", "gauge", "Live workers, by state.")
    for state in ("idle", "busy", "suspended"):
        lines.append(_line("jobline_workers", sum(1 for w in snap.workers if w.state == state), state=state))
    _header(lines, "jobline_schedulers", "gauge", "Live scheduler processes (heartbeat in the last 15 s).")
    lines.append(_line("jobline_schedulers", reading.schedulers))
    name = "jobline_scheduler_overdue_seconds"
    _header(lines, name, "gauge", "How far past its planned time the most overdue run is (0: none).")
    lines.append(_line(name, round(reading.overdue_s(now_s), 3)))
