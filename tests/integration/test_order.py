"""Priority order on one worker, and idempotent submits, against a real Redis."""

from __future__ import annotations

import threading

import pytest

from app import keys

pytestmark = pytest.mark.integration


def test_priority_order_with_one_worker(api, processes, real_redis):
    priorities = [0, 5, -5, 5, 0, 2, -5, 2, 1, 0, 5, -1]
    submitted = [api.submit("demo.noop", priority=p)["id"] for p in priorities]
    listed = [j["id"] for j in api.list(status="pending")["data"]]
    processes.worker("--name", "w-prio")
    for job_id in submitted:
        api.wait(job_id, "completed")
    run_order = started_order(real_redis)  # exact: the API's times have only millisecond precision
    expected = [submitted[i] for i in sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))]
    assert run_order == expected  # higher first, FIFO within a priority
    assert listed == expected  # the listing showed the pending jobs in the order they then ran


def started_order(redis) -> list[str]:
    """Job ids in the order they started, from the events stream (one entry per change, in order)."""
    entries = redis.xrange(keys.EVENTS)
    return [f[b"id"].decode() for _, f in entries if f[b"status"] == b"running" and f[b"progress"] == b"0"]


def test_idempotent_submit(api, processes):
    body = {"params": {"to": "a@example.com"}, "queue": "mail", "title": "welcome"}
    key = {"Idempotency-Key": "welcome-a"}
    first = api.submit("demo.echo", headers=key, **body)
    again = api.submit("demo.echo", expect=200, headers=key, **body)
    assert again["id"] == first["id"]
    reply = api.client.post(
        "/api/v1/jobs",
        json={"task": "demo.echo", **body, "params": {"to": "b@example.com"}},
        headers={**api.auth, **key},
    )
    assert reply.status_code == 409 and reply.get_json()["code"] == "CONFLICT"
    other = api.submit("demo.echo", headers={"Idempotency-Key": "welcome-b"}, **body)
    assert other["id"] != first["id"]
    processes.worker("--queues", "mail")
    api.wait(first["id"], "completed")
    replay = api.submit("demo.echo", expect=200, headers=key, **body)
    assert replay["id"] == first["id"] and replay["status"] == "completed"
    assert api.list(queue="mail")["total"] == 2


def test_fifty_concurrent_submits_with_one_idempotency_key_make_one_job(api):
    """RELIABILITY D6: the same key and body from 50 threads at once; then the key under another caller."""
    body = {"task": "demo.echo", "params": {"n": 1}, "queue": "idem"}
    headers = {**api.auth, "Idempotency-Key": "burst-1"}
    replies: list[tuple[int, str]] = []

    def submit() -> None:
        reply = api.client.post("/api/v1/jobs", json=body, headers=headers)
        replies.append((reply.status_code, reply.get_json()["id"]))

    threads = [threading.Thread(target=submit) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(replies) == 50
    assert sorted(code for code, _ in replies) == [200] * 49 + [201]
    assert len({job_id for _, job_id in replies}) == 1
    assert api.list(queue="idem")["total"] == 1
    token = api.client.post(
        "/api/v1/tokens", json={"name": "other-app", "role": "operator"}, headers=api.auth
    ).get_json()["token"]
    mine = api.client.post(
        "/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "burst-1"}
    )
    assert mine.status_code == 201 and mine.get_json()["id"] != replies[0][1]  # keys are per caller
