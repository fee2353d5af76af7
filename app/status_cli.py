"""`jobline status`: what an operator needs at 3 a.m., read straight from Redis (no API needed).

Queues with their counts and pause flags, live workers and what they run, schedulers, overdue workflow
runs, health problems and risky Redis settings; `--json` for scripts. Exit code 0 healthy, 1 degraded,
2 Redis unreachable, so it also serves as a check in cron or a monitoring probe.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from app.services.metrics import SCHEDULER_ALIVE_WITHIN_S
from app.services.stats import StatsService
from app.settings import Settings
from app.store.connection import config_advice, connect, redact_url, redis_problem
from app.store.metrics import read_metrics
from app.store.queues import STATUSES, QueueStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")


def collect(settings: Settings, redis: Any, now_s: float) -> dict[str, Any]:
    """Everything `status` shows, in four round trips (the CONFIG checks included)."""
    queues = QueueStore(redis)
    snap = queues.snapshot(settings.queues, stats=True, now_s=now_s)
    reading = read_metrics(redis, snap.names, now_s, SCHEDULER_ALIVE_WITHIN_S)
    health = StatsService(settings, redis, queues, clock=lambda: now_s).health(snap, now_s)
    overdue_s = reading.overdue_s(now_s)
    if overdue_s > 60 and not reading.schedulers:
        health["status"] = "degraded"
        health["problems"].append(f"workflow runs are {overdue_s:.0f} s overdue and no scheduler is alive")
    return {
        "redis": redact_url(settings.redis_url),
        "health": health,
        "queues": [
            {
                "name": q,
                "paused": q in snap.paused,
                **snap.counts[q],
                "workers": sum(q in w.queues for w in snap.workers),
            }
            for q in snap.names
        ],
        "workers": [
            {
                "name": w.name,
                "state": w.state,
                "queues": list(w.queues),
                "currentJobId": w.current_job_id,
                "heartbeatAgeS": round(now_s - w.last_heartbeat.timestamp(), 1) if w.last_heartbeat else None,
            }
            for w in snap.workers
        ],
        "schedulers": reading.schedulers,
        "overdueWorkflowRunS": round(overdue_s, 1),
        "redisAdvice": config_advice(redis),
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def render(report: dict[str, Any]) -> str:
    health = report["health"]
    out = [f"Jobline at {report['redis']}: {health['status'].upper()}"]
    out += [f"  ! {p}" for p in health["problems"]]
    out += [f"  ! Redis: {a}" for a in report["redisAdvice"]]
    rows = [["QUEUE", *(s.upper() for s in STATUSES), "RETRYING", "WORKERS", ""]]
    for q in report["queues"]:
        counts = [str(q[s]) for s in STATUSES]
        rows.append(
            [q["name"], *counts, str(q["retrying"]), str(q["workers"]), "paused" if q["paused"] else ""]
        )
    out += ["", _table(rows) if len(rows) > 1 else "no queues yet"]
    rows = [["WORKER", "STATE", "QUEUES", "CURRENT JOB", "HEARTBEAT"]]
    for w in report["workers"]:
        age = "-" if w["heartbeatAgeS"] is None else f"{w['heartbeatAgeS']:g} s ago"
        rows.append([w["name"], w["state"], ",".join(w["queues"]), w["currentJobId"] or "-", age])
    out += ["", _table(rows) if len(rows) > 1 else "no live workers: start one with `jobline worker`"]
    out += [
        "",
        f"schedulers alive: {report['schedulers']}; "
        f"most overdue workflow run: {report['overdueWorkflowRunS']:g} s",
    ]
    return "\n".join(out)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        redis = connect(settings, name="jobline-status")
        report = collect(settings, redis, time.time())
    except RedisError as e:
        problem = redis_problem(e) or str(e)
        if args.json:
            print(
                json.dumps(
                    {
                        "redis": redact_url(settings.redis_url),
                        "health": {"status": "unhealthy", "problems": [problem]},
                    }
                )
            )
        else:
            print(
                f"Jobline at {redact_url(settings.redis_url)}: UNHEALTHY\n  ! {problem}: "
                "check that Redis runs and REDIS_URL points at it",
                file=sys.stderr,
            )
        return 2
    report["checkedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["health"]["status"] == "healthy" else 1
