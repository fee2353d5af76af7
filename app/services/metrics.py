"""Prometheus text exposition: jobs by queue and status, finished totals, workers, throughput."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from app.store.queues import STATUSES
from app.store.roster import live_workers


def _line(name: str, value: float, **labels: str) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def render_metrics(svc: Any) -> str:
    """The metrics page; when Redis is down it says so (jobline_redis_up 0) instead of failing."""
    queues = svc.extra["queues"]
    lines = ["# HELP jobline_redis_up Whether Redis answered.", "# TYPE jobline_redis_up gauge"]
    try:
        names = queues.names(svc.settings.queues)
        counts = queues.counts(names)
        lifetime = queues.lifetime()
        workers = live_workers(svc.redis)
        paused = queues.paused()
    except RedisError:
        return "\n".join([*lines, _line("jobline_redis_up", 0), ""])
    lines.append(_line("jobline_redis_up", 1))
    lines += ["# HELP jobline_jobs Jobs stored now, by queue and status.", "# TYPE jobline_jobs gauge"]
    for q in names:
        for status in STATUSES:
            lines.append(_line("jobline_jobs", counts[q][status], queue=q, status=status))
    lines += [
        "# HELP jobline_jobs_finished_total Jobs finished since the start.",
        "# TYPE jobline_jobs_finished_total counter",
    ]
    for key, value in sorted(lifetime.items()):
        q, _, status = key.rpartition(":")
        lines.append(_line("jobline_jobs_finished_total", value, queue=q, status=status))
    lines += ["# HELP jobline_queue_paused Whether a queue is paused.", "# TYPE jobline_queue_paused gauge"]
    for q in names:
        lines.append(_line("jobline_queue_paused", 1 if q in paused else 0, queue=q))
    lines += ["# HELP jobline_workers Live workers, by state.", "# TYPE jobline_workers gauge"]
    for state in ("idle", "busy", "suspended"):
        lines.append(_line("jobline_workers", sum(1 for w in workers if w.state == state), state=state))
    return "\n".join(lines) + "\n"
