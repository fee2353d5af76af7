"""Page and cursor pagination over ~300 jobs in every status: each job once, in the contract's order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.api.schemas.common import iso_ms
from tests.conftest import poll_until
from tests.integration.conftest import parse_time

pytestmark = pytest.mark.integration
LIMIT = 37


def all_pages(api, **query) -> list[dict]:
    """Walk `page` 1, 2, ... to the last page."""
    first = api.list(limit=LIMIT, page=1, **query)
    jobs = list(first["data"])
    for page in range(2, first["pagination"]["totalPages"] + 1):
        reply = api.list(limit=LIMIT, page=page, **query)
        assert reply["pagination"]["currentPage"] == page
        jobs += reply["data"]
    assert len(jobs) == first["total"]
    return jobs


def all_cursor(api, limit: int = LIMIT, **query) -> list[dict]:
    """Follow nextCursor until it is null."""
    reply = api.list(limit=limit, **query)
    jobs = list(reply["data"])
    while reply["nextCursor"] is not None:
        reply = api.list(limit=limit, cursor=reply["nextCursor"], **query)
        jobs += reply["data"]
    return jobs


def ids(jobs: list[dict]) -> list[str]:
    return [j["id"] for j in jobs]


@pytest.fixture
def mixed(api, processes, tmp_path) -> dict[str, list[str]]:
    """302 jobs: 80 completed, 40 failed, 2 running, 100 pending, 40 canceled, 40 scheduled."""
    rng = random.Random(7)
    processes.worker("--name", "w-list-1")
    processes.worker("--name", "w-list-2")
    made: dict[str, list[str]] = {"completed": [], "failed": []}
    for n in range(120):
        task, status = ("demo.fail", "failed") if n % 3 == 2 else ("demo.noop", "completed")
        made[status].append(api.submit(task, priority=rng.randint(-2, 2), maxRetries=0)["id"])
    poll_until(lambda: api.list(status="completed", limit=1)["total"] == 80, 60)
    poll_until(lambda: api.list(status="failed", limit=1)["total"] == 40, 30)
    sleepers = [
        api.submit("itest.pid_sleep", params={"pidfile": str(tmp_path / f"{n}.pid"), "seconds": 120})["id"]
        for n in range(2)
    ]
    for job_id in sleepers:
        api.wait(job_id, "running")
    made["running"] = sleepers
    made["pending_priority"] = []
    made["pending"] = []
    for _ in range(100):
        priority = rng.randint(-3, 3)
        made["pending"].append(api.submit("demo.echo", priority=priority)["id"])
        made["pending_priority"].append(priority)
    made["canceled"] = [api.submit("demo.sleep", priority=rng.randint(-3, 3))["id"] for _ in range(40)]
    for job_id in made["canceled"]:
        api.action(job_id, "cancel")
    base = datetime.now(UTC) + timedelta(hours=1)
    offsets = rng.sample(range(1, 4000), 40)
    made["scheduled"] = [
        api.submit("demo.progress", scheduledAt=iso_ms(base + timedelta(seconds=s)))["id"] for s in offsets
    ]
    made["scheduled_offsets"] = offsets
    return made


def test_every_job_exactly_once_in_the_contracts_order(api, mixed):
    by_page, by_cursor = all_pages(api), all_cursor(api)
    assert len(by_page) == len(set(ids(by_page))) == 302
    assert ids(by_cursor) == ids(by_page)

    statuses = [j["status"] for j in by_page]
    assert statuses[:2] == ["running"] * 2 and set(ids(by_page[:2])) == set(mixed["running"])
    assert statuses[2:102] == ["pending"] * 100
    assert statuses[102:142] == ["scheduled"] * 40
    assert set(statuses[142:]) == {"completed", "failed", "canceled"}

    pending = mixed["pending"]
    priority = dict(zip(pending, mixed["pending_priority"], strict=True))
    run_order = sorted(pending, key=lambda i: (-priority[i], pending.index(i)))
    assert ids(by_page[2:102]) == run_order

    soonest = [i for _, i in sorted(zip(mixed["scheduled_offsets"], mixed["scheduled"], strict=True))]
    assert ids(by_page[102:142]) == soonest

    ended = [parse_time(j["completedAt"]) for j in by_page[142:]]
    assert ended == sorted(ended, reverse=True)  # newest first
    assert set(ids(by_page[142:])) == set(mixed["completed"] + mixed["failed"] + mixed["canceled"])


FILTERS = [
    ({"status": "pending"}, 100),
    ({"status": "QUEUED"}, 100),
    ({"status": "scheduled"}, 40),
    ({"status": "cancelled"}, 40),
    ({"status": "finished"}, 80),
    ({"task": "demo.fail"}, 40),
    ({"queue": "default", "task": "demo.echo"}, 100),  # a combination no single index covers
    ({"trigger": "manual", "status": "active"}, 2),
    ({"queue": "default"}, 302),
]


def test_totals_and_filtered_listings(api, mixed):
    first = api.list(limit=LIMIT, page=1)
    assert (first["total"], first["pendingCount"], first["runningCount"]) == (302, 100, 2)
    assert first["pagination"] == {"currentPage": 1, "totalPages": 9, "totalJobs": 302, "limit": LIMIT}
    assert first["nextCursor"] is not None
    last = api.list(limit=LIMIT, page=9)
    assert len(last["data"]) == 302 - 8 * LIMIT and last["nextCursor"] is None
    assert api.list(limit=LIMIT, page=10)["data"] == []
    failed = api.list(status="failed", limit=5)
    assert (failed["total"], failed["pendingCount"], failed["runningCount"]) == (40, 100, 2)
    for query, count in FILTERS:
        by_page, by_cursor = all_pages(api, **query), all_cursor(api, limit=13, **query)
        assert len(by_page) == len(set(ids(by_page))) == count, query
        assert ids(by_cursor) == ids(by_page), query
