"""Faults: a SIGKILLed worker's job is recovered; Redis going away and coming back."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import threading
import time

import pytest
from redis import Redis

from app import keys
from app.api import create_app
from tests.conftest import login, poll_until
from tests.integration.conftest import Api, pid_alive, read_pid
from tests.integration.latency_proxy import LatencyProxy

pytestmark = pytest.mark.integration


def kill_worker(proc) -> float:
    """SIGKILL the worker's whole process group (worker and forkserver); return the monotonic time."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    return time.monotonic()


def test_a_sigkilled_workers_job_is_recovered(api, processes, real_settings, tmp_path):
    lease = real_settings.lease_s
    first_pid, second_pid = tmp_path / "first.pid", tmp_path / "second.pid"
    doomed = processes.worker("--name", "w-doomed")
    job = api.submit("itest.pid_sleep", params={"pidfile": str(first_pid), "seconds": 30}, maxRetries=1)
    assert api.wait(job["id"], "running")["workerId"] == "w-doomed"
    task_pid = read_pid(first_pid)
    killed_at = kill_worker(doomed)
    processes.worker("--name", "w-rescuer")
    poll_until(lambda: not pid_alive(task_pid), timeout_s=5)  # the orphaned child died with its parent
    first_pid.unlink()
    rerun = poll_until(lambda: (j := api.get(job["id"]))["workerId"] == "w-rescuer" and j, lease + 10)
    assert time.monotonic() - killed_at < lease + 8
    assert rerun["status"] == "running" and rerun["retryCount"] == 1
    assert rerun["history"][0]["error"].startswith("abandoned")
    assert rerun["history"][0]["workerId"] == "w-doomed"
    read_pid(first_pid)  # the task really runs again
    api.action(job["id"], "cancel")

    no_retries = api.submit(
        "itest.pid_sleep", params={"pidfile": str(second_pid), "seconds": 30}, maxRetries=0
    )
    assert api.wait(no_retries["id"], "running")["workerId"] == "w-rescuer"
    read_pid(second_pid)
    killed_at = kill_worker(processes.procs[-1])
    processes.worker("--name", "w-last")
    failed = api.wait(no_retries["id"], "failed", timeout_s=lease + 10)
    assert time.monotonic() - killed_at < lease + 8
    assert failed["error"].startswith("abandoned") and failed["retryCount"] == 0


def test_redis_outage_503_then_recovery(redis_server, real_settings, real_redis, processes):
    client = create_app(real_settings).test_client()  # production wiring: the API's own Redis client
    api = Api(client, login(client))
    processes.worker("--name", "w-outage")
    before = api.submit("demo.echo", params={"phase": "before"})
    api.wait(before["id"], "completed")
    redis_server.stop()
    try:
        for method, path in [
            ("get", "/api/v1/jobs"),
            ("post", "/api/v1/jobs"),
            ("get", f"/api/v1/jobs/{before['id']}"),
        ]:
            started = time.monotonic()
            reply = getattr(client, method)(
                path, json={"task": "demo.noop"} if method == "post" else None, headers=api.auth
            )
            assert time.monotonic() - started < 3
            assert reply.status_code == 503, reply.get_json()
            assert reply.get_json()["code"] == "UNAVAILABLE" and int(reply.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        time.sleep(1.5)  # the worker meets the outage too
    finally:
        redis_server.start()
    poll_until(lambda: client.get("/readyz").status_code == 200, timeout_s=10)
    assert api.get(before["id"])["status"] == "completed"  # AOF kept the data
    after = api.submit("demo.echo", params={"phase": "after"})
    done = api.wait(after["id"], "completed", timeout_s=30)
    assert done["workerId"] == "w-outage" and done["result"] == {"phase": "after"}
    assert processes.procs[0].poll() is None  # the worker lived through it


def test_a_frozen_redis_gives_prompt_503s_and_everything_recovers(redis_server, real_settings, processes):
    """RELIABILITY B2 (black hole): Redis stops answering without closing connections (SIGSTOP). Every
    request still answers within the socket timeout + 1 s, with a 503; /healthz is never blocked; API and
    worker recover by themselves once Redis answers again."""
    client = create_app(real_settings).test_client()
    api = Api(client, login(client))
    processes.worker("--name", "w-frozen")
    before = api.submit("demo.echo", params={"phase": "before"})
    api.wait(before["id"], "completed")
    limit = real_settings.redis_timeout_s + 1
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        results: list[tuple[int, float]] = []

        def call(path: str) -> None:
            started = time.monotonic()
            status = client.get(path, headers=api.auth).status_code
            results.append((status, time.monotonic() - started))

        threads = [
            threading.Thread(target=call, args=(p,))
            for p in ["/api/v1/jobs", f"/api/v1/jobs/{before['id']}", "/api/v1/queues", "/api/v1/jobs/stats"]
        ]
        for t in threads:
            t.start()
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 0.5  # not stuck behind the hung requests
        for t in threads:
            t.join(timeout=limit + 5)
        assert len(results) == 4
        assert all(status == 503 and took <= limit for status, took in results), results
        time.sleep(1.0)  # the worker meets the freeze too
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    poll_until(lambda: client.get("/readyz").status_code == 200, timeout_s=10)
    after = api.submit("demo.echo", params={"phase": "after"})
    done = api.wait(after["id"], "completed", timeout_s=30)
    assert done["workerId"] == "w-frozen" and done["result"] == {"phase": "after"}
    assert processes.procs[0].poll() is None


def test_workers_killed_at_random_lose_no_job(api, processes, redis_server, real_redis):
    """RELIABILITY A2 (CI size): 60 jobs on 3 workers; every 1.5 s one worker, chosen at random, is
    SIGKILLed with its child and replaced. Every job completes, and the ledger (a separate Redis
    database the jobs write their side effect to) shows at most one extra effect per kill."""
    ledger_url = redis_server.url.rsplit("/", 1)[0] + "/1"
    ledger = Redis.from_url(ledger_url)
    ledger.delete("ledger")
    workers = [processes.worker("--name", f"w-chaos-{i}") for i in range(3)]
    jobs = [
        api.submit("itest.ledger", params={"ledger_url": ledger_url, "seconds": 0.3}, maxRetries=5)["id"]
        for _ in range(60)
    ]
    rng = random.Random(7)
    kills = 0
    for n in range(4):
        time.sleep(1.5)
        victim = rng.randrange(len(workers))
        kill_worker(workers[victim])
        kills += 1
        workers[victim] = processes.worker("--name", f"w-chaos-new-{n}")
    finals = [api.wait(job_id, "completed", "failed", timeout_s=60) for job_id in jobs]
    assert [j["status"] for j in finals] == ["completed"] * 60  # 0 lost, none failed
    effects = [e.decode().rsplit(":", 1)[0] for e in ledger.lrange("ledger", 0, -1)]
    assert set(effects) == set(jobs)
    assert len(effects) - len(jobs) <= kills
    abandoned = [a for j in finals for a in j["history"] if (a["error"] or "").startswith("abandoned")]
    assert 1 <= len(abandoned) <= kills  # the kills hit running jobs, and only those were re-run
    assert real_redis.zcard(keys.started("default")) == 0
    ledger.delete("ledger")


def test_slow_redis_keeps_jobs_healthy_and_answers_proportionally(redis_server, real_settings, processes):
    """RELIABILITY B3: 250 ms added to every request to Redis (a delaying proxy). Healthy jobs are never
    reaped as abandoned, retried submits with one Idempotency-Key make one job, and an API call costs
    about its round trips x the latency, nothing more (no retry storms, no timeouts)."""
    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    proxy = LatencyProxy(port).start()
    try:
        slow = dataclasses.replace(real_settings, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
        client = create_app(slow).test_client()
        api = Api(client, login(client))
        processes.settings = slow
        processes.worker("--name", "w-slow")
        job = api.submit("demo.echo", params={"n": 0})
        api.wait(job["id"], "completed")

        def timed_get() -> float:
            started = time.monotonic()
            assert client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth).status_code == 200
            return time.monotonic() - started

        baseline = max(timed_get() for _ in range(5))
        proxy.delay_s = 0.25
        jobs = [api.submit("demo.sleep", params={"seconds": 1.5})["id"] for _ in range(3)]
        key = {"Idempotency-Key": "slow-1"}
        first = api.submit("demo.echo", headers=key, params={"n": 1})
        again = api.submit("demo.echo", expect=200, headers=key, params={"n": 1})
        assert again["id"] == first["id"]
        worst = max(timed_get() for _ in range(5))
        assert worst <= 0.25 + baseline + 0.2  # one round trip (auth and job together), no more
        for job_id in [*jobs, first["id"]]:
            done = api.wait(job_id, "completed", timeout_s=30)
            assert done["retryCount"] == 0 and len(done["history"]) == 1  # never reaped as abandoned
    finally:
        proxy.stop()
