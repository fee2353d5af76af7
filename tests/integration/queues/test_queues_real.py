"""Queues, workers, stats and retention against a real redis-server with real `jobline worker` processes."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import keys
from tests.conftest import Processes, poll_until
from tests.unit.queues.conftest import keys_mentioning, submit

pytestmark = pytest.mark.integration
STATUSES = ("pending", "running", "scheduled", "completed", "failed", "canceled")


def get(client, auth, url):
    reply = client.get(url, headers=auth)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def queue_counts(client, auth):
    return {q["name"]: q["counts"] for q in get(client, auth, "/api/v1/queues")["queues"]}


def statuses(client, auth, ids):
    return [get(client, auth, f"/api/v1/jobs/{i}")["status"] for i in ids]


def live_names(client, auth):
    return {w["id"] for w in get(client, auth, "/api/v1/workers")["workers"]}


def test_counts_equal_listing_totals_in_every_status_after_a_mixed_run(
    real_client, real_auth, real_settings, real_redis, tmp_path
):
    procs = Processes(real_settings.with_changes(retry_delays_s=(120.0,)), tmp_path)
    try:
        procs.worker("--queues", "mixa", "--name", "mix-worker")
        c, a = real_client, real_auth
        done = [submit(c, a, "mixa") for _ in range(6)]
        done += [submit(c, a, "mixa", task="demo.fail", maxRetries=0) for _ in range(3)]
        done.append(submit(c, a, "mixa", task="demo.fail", maxRetries=2))  # waits 120 s for its retry
        poll_until(lambda: get(c, a, "/api/v1/jobs/stats")["lifetime"]["failed"] == 3, 60)
        poll_until(lambda: get(c, a, "/api/v1/jobs/stats")["retrying"] == 1, 30)
        sleepers = [submit(c, a, "mixa", task="demo.sleep", params={"seconds": 120}) for _ in range(2)]
        poll_until(lambda: "running" in statuses(c, a, sleepers), 30)
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        submit(c, a, "mixa", scheduledAt=later)
        idle = [submit(c, a, "mixb", priority=p) for p in (0, 2, -1)]
        c.post(f"/api/v1/jobs/{idle[0]}/cancel", headers=a)

        counts = queue_counts(c, a)
        assert counts["mixa"] == {
            "pending": 1,
            "running": 1,
            "scheduled": 2,
            "completed": 6,
            "failed": 3,
            "canceled": 0,
        }
        assert counts["mixb"] == {**dict.fromkeys(STATUSES, 0), "pending": 2, "canceled": 1}
        stats = get(c, a, "/api/v1/jobs/stats")
        for status in STATUSES:
            for q in ("mixa", "mixb"):
                page = get(c, a, f"/api/v1/queues/{q}?status={status}&limit=1000")
                assert page["pagination"]["totalJobs"] == len(page["jobs"]) == counts[q][status]
                assert all(j["status"] == status and j["queue"] == q for j in page["jobs"])
            listed = get(c, a, f"/api/v1/jobs?status={status}&limit=1000")
            assert listed["total"] == len(listed["data"]) == stats[status]
            assert stats[status] == sum(q[status] for q in counts.values())
        everything = get(c, a, "/api/v1/jobs?limit=1000")
        assert everything["total"] == len(everything["data"]) == stats["total"] == 16
        assert stats["health"]["status"] == "degraded"  # mixb has pending jobs and no worker
        assert stats["health"]["unservedQueues"] == ["mixb"]
    finally:
        procs.stop_all()


def test_pause_holds_across_a_worker_restart(real_client, real_auth, processes):
    c, a = real_client, real_auth
    submit(c, a, "pz")
    assert c.post("/api/v1/queues/pz/pause", headers=a).status_code == 200
    ids = [submit(c, a, "pz") for _ in range(3)]  # a paused queue still takes submits
    first = processes.worker("--queues", "pz", "--name", "pz-1")
    poll_until(lambda: "pz-1" in live_names(c, a), 30)
    time.sleep(2.0)  # several claim rounds: none may take a job
    assert set(statuses(c, a, ids)) == {"pending"}
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)
    processes.worker("--queues", "pz", "--name", "pz-2")
    poll_until(lambda: "pz-2" in live_names(c, a), 30)
    time.sleep(2.0)
    assert set(statuses(c, a, ids)) == {"pending"}
    assert get(c, a, "/api/v1/queues/pz")["paused"] is True
    assert c.post("/api/v1/queues/pz/resume", headers=a).get_json()["paused"] is False
    poll_until(lambda: set(statuses(c, a, ids)) == {"completed"}, 30)


def test_retry_failed_then_purge(real_client, real_auth, real_redis, processes):
    c, a = real_client, real_auth
    processes.worker("--queues", "pr")
    ids = [submit(c, a, "pr", task="demo.fail", maxRetries=0) for _ in range(4)]
    poll_until(lambda: queue_counts(c, a)["pr"]["failed"] == 4, 30)
    assert c.post("/api/v1/queues/pr/retry-failed", headers=a).get_json() == {"retried": 4}
    poll_until(lambda: get(c, a, "/api/v1/jobs/stats")["lifetime"]["failed"] == 8, 30)
    poll_until(lambda: queue_counts(c, a)["pr"]["failed"] == 4, 30)
    job = get(c, a, f"/api/v1/jobs/{ids[0]}")
    assert [h["status"] for h in job["history"]] == ["failed", "failed"]
    reply = c.delete("/api/v1/queues/pr/jobs?status=failed", headers=a)
    assert reply.get_json() == {"deleted": 4}
    assert queue_counts(c, a)["pr"] == dict.fromkeys(STATUSES, 0)
    for job_id in ids:
        assert keys_mentioning(real_redis, job_id) == []


def test_retention_keeps_exactly_the_newest_20_completed(
    real_client, real_auth, real_settings, real_redis, tmp_path
):
    procs = Processes(real_settings.with_changes(keep_completed=20), tmp_path)
    try:
        procs.worker("--queues", "ret")
        c, a = real_client, real_auth
        ids = [submit(c, a, "ret") for _ in range(60)]
        poll_until(lambda: get(c, a, "/api/v1/jobs/stats")["lifetime"]["completed"] == 60, 90)
        stored = {m.decode() for m in real_redis.zrange(keys.terminal("ret", "completed"), 0, -1)}
        assert len(stored) == 20
        assert queue_counts(c, a)["ret"]["completed"] == 20
        page = get(c, a, "/api/v1/queues/ret?status=completed&limit=100")
        assert {j["id"] for j in page["jobs"]} == stored
        gone = [i for i in ids if i not in stored]
        assert len(gone) == 40
        for job_id in gone:
            assert keys_mentioning(real_redis, job_id) == []
        job_keys = [k for k in real_redis.scan_iter(match=keys.job("*"), count=1000)]
        assert len(job_keys) == 20
    finally:
        procs.stop_all()


def test_workers_shows_live_workers_and_drops_a_killed_one(real_client, real_auth, real_redis, processes):
    c, a = real_client, real_auth
    processes.worker("--queues", "wk", "--name", "wk-keep")
    doomed = processes.worker("--queues", "wk,other", "--name", "wk-doomed")
    poll_until(lambda: live_names(c, a) == {"wk-keep", "wk-doomed"}, 30)
    workers = {w["id"]: w for w in get(c, a, "/api/v1/workers")["workers"]}
    assert workers["wk-doomed"]["queues"] == ["wk", "other"]
    assert workers["wk-doomed"]["pid"] and workers["wk-keep"]["state"] in ("idle", "busy")
    queues = {q["name"]: q for q in get(c, a, "/api/v1/queues")["queues"]}
    assert queues["wk"]["workers"] == 2
    os.killpg(doomed.pid, signal.SIGKILL)
    poll_until(lambda: live_names(c, a) == {"wk-keep"}, 30)  # its hash expires after the lease
    doomed_key = keys.worker("wk-doomed").encode()
    assert doomed_key in real_redis.smembers(keys.RQ_WORKERS)  # killed workers never unregister
    processes.worker("--queues", "wk", "--name", "wk-new")
    poll_until(lambda: doomed_key not in real_redis.smembers(keys.workers_of_queue("wk")), 30)
    assert doomed_key not in real_redis.smembers(keys.RQ_WORKERS)
    assert doomed_key not in real_redis.smembers(keys.workers_of_queue("other"))
