"""RELIABILITY B4: Redis reaches maxmemory (noeviction). New jobs are refused with a 503 that says why;
nothing stored is lost; the workers keep running, finishing and heartbeating the jobs already there,
and everything is back to normal once memory is available again."""

from __future__ import annotations

import dataclasses

import pytest
from redis import Redis

from app.api import create_app
from app.redis_server import RedisServer
from tests.conftest import login, poll_until
from tests.integration.conftest import Api

pytestmark = pytest.mark.integration


@pytest.fixture
def full(real_redis):
    """Call to make Redis full: maxmemory just below what it uses now. Lifted afterwards."""

    def fill_up() -> None:
        used = real_redis.info("memory")["used_memory"]
        real_redis.config_set("maxmemory", max(1, used - 200_000))

    yield fill_up
    real_redis.config_set("maxmemory", 0)


def test_a_full_redis_refuses_new_jobs_and_keeps_running_the_stored_ones(api, processes, real_redis, full):
    processes.worker("--name", "w-long")
    processes.worker("--name", "w-other")  # its claims would reap `long` if its heartbeats failed
    poll_until(lambda: len(api.client.get("/api/v1/workers", headers=api.auth).get_json()["workers"]) == 2)
    long = api.submit("demo.sleep", params={"seconds": 4}, maxRetries=1)  # longer than the 3 s lease
    api.wait(long["id"], "running")
    queued = [api.submit("demo.sleep", params={"seconds": 0.2})["id"] for _ in range(10)]
    stored_before = set(real_redis.keys("rq:job:*"))

    full()
    reply = api.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=api.auth)
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    body = reply.get_json()
    assert body["code"] == "UNAVAILABLE" and "full (maxmemory reached)" in body["error"]
    assert body["details"]["health"]["problems"] == [body["error"].removesuffix("; try again shortly")]
    assert set(real_redis.keys("rq:job:*")) == stored_before  # noeviction: nothing went
    fresh = login(api.client)  # an operator can still log in to a full Redis ...
    assert api.client.get("/api/v1/queues", headers=fresh).status_code == 200
    processes.worker("--name", "w-late")  # started while Redis is full: waits, saying why

    done = api.wait(long["id"], "completed", timeout_s=15)
    assert done["retryCount"] == 0 and len(done["history"]) == 1  # its lease held: never reaped
    for job_id in queued:
        api.wait(job_id, "completed", timeout_s=15)
    assert real_redis.info("memory")["used_memory"] > int(real_redis.config_get("maxmemory")["maxmemory"])
    assert "w-late: Redis is full (maxmemory reached)" in processes.logs()
    purged = api.client.delete("/api/v1/queues/default/jobs?status=completed", headers=fresh)
    assert purged.status_code == 200, purged.get_json()  # ... and free memory by purging
    assert api.client.get(f"/api/v1/jobs/{queued[0]}", headers=fresh).status_code == 404

    real_redis.config_set("maxmemory", 0)
    after = api.submit("demo.noop")
    assert api.wait(after["id"], "completed")["status"] == "completed"

    def names():
        workers = api.client.get("/api/v1/workers", headers=api.auth).get_json()["workers"]
        return {w["id"] for w in workers}

    poll_until(lambda: "w-late" in names(), timeout_s=10)


def test_a_read_only_replica_answers_503_naming_the_problem(api, real_redis):
    real_redis.config_set("replica-read-only", "yes")
    real_redis.replicaof("127.0.0.1", 1)  # a primary that does not exist: reads work, writes are refused
    try:
        reply = api.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=api.auth)
        assert reply.status_code == 503, reply.get_json()
        assert "read-only replica" in reply.get_json()["error"]
        assert api.client.get("/api/v1/jobs", headers=api.auth).status_code == 200
    finally:
        real_redis.replicaof("NO", "ONE")
    poll_until(
        lambda: (
            api.client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=api.auth).status_code == 201
        ),
        5,
    )


def test_a_redis_that_cannot_save_answers_503_misconf_and_recovers(real_settings, tmp_path):
    """RELIABILITY B5: a failed background save makes Redis refuse writes (MISCONF): 503 naming it, reads
    still work, nothing half-written, and writes come back once a save succeeds. The save is made to fail
    by a directory where the snapshot file should go (renaming onto it fails, even for root)."""
    server = RedisServer(directory=str(tmp_path / "redis"), appendonly=False).start()
    try:
        redis = Redis.from_url(server.url)
        redis.config_set("save", "3600 1")
        redis.config_set("stop-writes-on-bgsave-error", "yes")
        settings = dataclasses.replace(real_settings, redis_url=server.url)
        client = create_app(settings).test_client()
        api = Api(client, login(client))
        before = api.submit("demo.noop")
        blocker = tmp_path / "redis" / redis.config_get("dbfilename")["dbfilename"]
        blocker.mkdir()
        redis.bgsave()
        poll_until(lambda: redis.info("persistence")["rdb_last_bgsave_status"] == "err", timeout_s=10)
        reply = client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=api.auth)
        assert reply.status_code == 503, reply.get_json()
        assert "cannot save to disk" in reply.get_json()["error"] and reply.headers["Retry-After"]
        assert api.get(before["id"])["status"] == "pending"  # reads still work
        blocker.rmdir()
        redis.bgsave()
        poll_until(lambda: redis.info("persistence")["rdb_last_bgsave_status"] == "ok", timeout_s=10)
        api.submit("demo.noop")
        assert api.list()["total"] == 2  # the one before and the one after: the refused one left nothing
    finally:
        server.stop()
