"""Stats fields and health, and the live-workers roster, on fakeredis."""

from __future__ import annotations

import time

from redis import Redis
from rq import Worker

from app import keys
from app.api import create_app
from app.services.stats import StatsService
from app.store.roster import live_workers, prune_dead
from tests.conftest import login, make_settings
from tests.unit.queues.conftest import Driver, submit


def register(redis, name, *queues):
    worker = Worker(list(queues), connection=redis, name=name)
    worker.register_birth()
    return worker


def test_stats_counts_throughput_lifetime_and_processing_time(fake_redis):
    settings = make_settings(retry_delays_s=(30.0,))
    client = create_app(settings, fake_redis).test_client()
    auth = login(client)
    for _ in range(3):
        submit(client, auth, "s")
    for _ in range(2):
        submit(client, auth, "s", maxRetries=0)
    submit(client, auth, "s", maxRetries=2)
    worker = Driver(fake_redis, settings, ("s",))
    worker.run("ok", 3)
    worker.run("error", 3)
    stats = client.get("/api/v1/jobs/stats", headers=auth).get_json()
    assert stats["completed"] == 3 and stats["failed"] == 2
    assert stats["scheduled"] == 1 and stats["retrying"] == 1
    assert stats["total"] == 6
    assert stats["queueType"] == "redis"
    assert stats["throughput"] == {"lastMinute": 5, "lastHour": 5, "lastDay": 5}
    assert stats["lifetime"] == {"completed": 3, "failed": 2, "canceled": 0}
    assert stats["avgProcessingTime"] == 50


def test_health_is_degraded_when_pending_jobs_have_no_worker(client, auth, fake_redis):
    submit(client, auth, "lonely")
    health = client.get("/api/v1/jobs/stats", headers=auth).get_json()["health"]
    assert health["status"] == "degraded" and health["unservedQueues"] == ["lonely"]
    register(fake_redis, "w1", "lonely")
    stats = client.get("/api/v1/jobs/stats", headers=auth).get_json()
    assert stats["health"]["status"] == "healthy" and stats["workers"] == 1


def test_a_paused_queue_without_worker_is_not_a_problem(client, auth):
    submit(client, auth, "resting")
    client.post("/api/v1/queues/resting/pause", headers=auth)
    health = client.get("/api/v1/jobs/stats", headers=auth).get_json()["health"]
    assert health["status"] == "healthy" and health["pausedQueues"] == ["resting"]


def test_health_is_degraded_when_a_job_waited_past_the_alert(app, client, auth, fake_redis):
    submit(client, auth, "slow", priority=-3)
    submit(client, auth, "slow", priority=4)
    register(fake_redis, "w1", "slow")
    queues = app.extensions["jobline"].extra["queues"]
    settings = make_settings(wait_alert_s=10)
    now = StatsService(settings, fake_redis, queues, clock=lambda: time.time() + 5).stats()
    assert now["health"]["status"] == "healthy"
    later = StatsService(settings, fake_redis, queues, clock=lambda: time.time() + 20).stats()
    assert later["health"]["status"] == "degraded"
    assert 19_000 <= later["health"]["longestWaitMs"] <= 21_000


def test_stats_answer_503_unhealthy_when_redis_is_down():
    settings = make_settings(redis_url="redis://127.0.0.1:1/0", anonymous_role="viewer")
    down = Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
    client = create_app(settings, down).test_client()
    reply = client.get("/api/v1/jobs/stats")  # anonymous viewer: no token check that could need Redis
    assert reply.status_code == 503
    body = reply.get_json()
    assert body["code"] == "UNAVAILABLE" and body["details"]["health"]["status"] == "unhealthy"
    assert reply.headers["Retry-After"]


def test_workers_lists_live_workers_with_their_counters(client, auth, fake_redis):
    register(fake_redis, "w-a", "x", "y")
    register(fake_redis, "unit-worker", "x")  # the driver's name
    job_id = submit(client, auth, "x")
    Driver(fake_redis, make_settings(), ("x",)).run("ok", 1)
    workers = {w["id"]: w for w in client.get("/api/v1/workers", headers=auth).get_json()["workers"]}
    assert set(workers) == {"w-a", "unit-worker"}
    w = workers["unit-worker"]
    assert set(w) == {
        "id", "hostname", "pid", "state", "queues", "currentJobId", "lastHeartbeat", "startedAt",
        "successfulJobs", "failedJobs", "totalWorkingTime",
    }  # fmt: skip
    assert w["state"] == "idle" and w["queues"] == ["x"] and w["successfulJobs"] == 1
    assert w["totalWorkingTime"] == 50 and w["lastHeartbeat"] and w["startedAt"]
    assert workers["w-a"]["queues"] == ["x", "y"] and job_id


def test_a_worker_whose_hash_expired_disappears_and_is_pruned(fake_redis, client, auth):
    register(fake_redis, "alive", "q1")
    dead = register(fake_redis, "killed", "q1", "q2")
    fake_redis.delete(dead.key)  # what its TTL does when it stops heart-beating
    assert [w.name for w in live_workers(fake_redis)] == ["alive"]
    assert prune_dead(fake_redis, ["q1", "q2"]) == 1
    assert fake_redis.smembers(keys.RQ_WORKERS) == {keys.worker("alive").encode()}
    assert fake_redis.smembers(keys.workers_of_queue("q2")) == set()
    assert fake_redis.smembers(keys.workers_of_queue("q1")) == {keys.worker("alive").encode()}


def test_a_stopped_worker_is_not_live(fake_redis):
    worker = register(fake_redis, "gone", "q1")
    worker.register_death()
    assert live_workers(fake_redis) == []
