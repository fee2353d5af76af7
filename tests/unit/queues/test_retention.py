"""Retention on fakeredis: count caps and age limits delete trimmed jobs entirely; lifetime keeps counting."""

from __future__ import annotations

import time

from app import keys
from app.api import create_app
from tests.conftest import login, make_settings
from tests.unit.queues.conftest import Driver, keys_mentioning, submit


def test_count_cap_keeps_the_newest_and_deletes_the_rest_entirely(fake_redis):
    settings = make_settings(keep_completed=20)
    client = create_app(settings, fake_redis).test_client()
    auth = login(client)
    ids = [submit(client, auth, "keep") for _ in range(60)]
    worker = Driver(fake_redis, settings, ("keep",))
    assert len(worker.run("ok", 100)) == 60
    kept = {m.decode() for m in fake_redis.zrange(keys.terminal("keep", "completed"), 0, -1)}
    assert kept == set(ids[40:])
    for job_id in ids[:40]:
        assert keys_mentioning(fake_redis, job_id) == []
    for job_id in ids[40:]:
        assert fake_redis.exists(keys.job(job_id))
    stats = client.get("/api/v1/jobs/stats", headers=auth).get_json()
    assert stats["completed"] == 20 and stats["lifetime"]["completed"] == 60
    listed = client.get("/api/v1/jobs?status=completed&limit=1000", headers=auth).get_json()
    assert listed["total"] == 20 and {j["id"] for j in listed["data"]} == kept
    by_task = client.get("/api/v1/jobs?task=demo.noop&limit=1000", headers=auth).get_json()
    assert by_task["total"] == 20


def test_age_limit_trims_in_maintenance_even_for_queues_no_worker_serves(fake_redis):
    settings = make_settings(result_ttl_s=60)
    client = create_app(settings, fake_redis).test_client()
    auth = login(client)
    old = [submit(client, auth, "aged", maxRetries=0) for _ in range(4)]
    now_us = time.time_ns() // 1000
    Driver(fake_redis, settings, ("aged",)).run("ok", 2)
    Driver(fake_redis, settings, ("aged",)).run("error", 2)
    assert fake_redis.zcard(keys.terminal("aged", "failed")) == 2
    later = Driver(fake_redis, settings, ("elsewhere",), clock_us=lambda: now_us + 61_000_000)
    later.maintain()
    for job_id in old:
        assert keys_mentioning(fake_redis, job_id) == []
    counts = {q["name"]: q["counts"] for q in client.get("/api/v1/queues", headers=auth).get_json()["queues"]}
    assert counts["aged"]["completed"] == counts["aged"]["failed"] == 0


def test_young_jobs_survive_maintenance(fake_redis):
    settings = make_settings(result_ttl_s=60)
    client = create_app(settings, fake_redis).test_client()
    auth = login(client)
    job_id = submit(client, auth, "young")
    Driver(fake_redis, settings, ("young",)).run("ok", 1)
    now_us = time.time_ns() // 1000
    Driver(fake_redis, settings, ("young",), clock_us=lambda: now_us + 30_000_000).maintain()
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "completed"


def test_finished_job_hashes_have_no_ttl_and_drop_run_bookkeeping(fake_redis, client, auth):
    job_id = submit(client, auth, "lean")
    Driver(fake_redis, make_settings(), ("lean",)).run("ok", 1)
    assert fake_redis.ttl(keys.job(job_id)) == -1
    stored = {k.decode() for k in fake_redis.hkeys(keys.job(job_id))}
    assert not stored & {"enqueued_at", "last_heartbeat", "jl_exec", "jl_runat", "jl_upd", "jl_title"}
    job = client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()
    assert job["updatedAt"] == job["completedAt"] is not None
