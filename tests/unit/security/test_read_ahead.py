"""GET /jobs/{id} reads the job in the auth lookup's round trip, and shows it only to a caller who passes."""

from __future__ import annotations

import fakeredis
import pytest

from app.store.jobs import JobStore
from app.store.readahead import ReadAhead, run_with
from tests.unit.security.conftest import AppKit, assert_error

JOBS = "/api/v1/jobs"


def submit(kit: AppKit, queue: str = "qa") -> str:
    reply = kit.client.post(JOBS, json={"task": "demo.echo", "queue": queue}, headers=kit.admin)
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()["id"]


@pytest.fixture
def no_second_read(monkeypatch):
    """Once called, JobStore.find fails the test: the job must come from the auth lookup's pipeline."""

    def second_round_trip(self, job_id):
        raise AssertionError(f"job {job_id} read in a round trip of its own")

    return lambda: monkeypatch.setattr(JobStore, "find", second_round_trip)


def test_a_login_token_gets_the_job_from_the_lookups_round_trip(kit, no_second_read):
    job_id, headers = submit(kit), kit.user("ann", "viewer")
    no_second_read()
    reply = kit.client.get(f"{JOBS}/{job_id}", headers=headers)
    assert reply.status_code == 200 and reply.get_json()["id"] == job_id
    assert reply.get_json()["task"] == "demo.echo" and reply.get_json()["queue"] == "qa"


def test_an_api_token_gets_the_job_from_the_lookups_round_trip(kit, no_second_read):
    job_id = submit(kit)
    _, viewer = kit.token("dash", "viewer")
    no_second_read()
    reply = kit.client.get(f"{JOBS}/{job_id}", headers=viewer)
    assert reply.status_code == 200 and reply.get_json()["id"] == job_id


def test_a_missing_job_read_ahead_is_404(kit, no_second_read):
    no_second_read()
    assert_error(kit.client.get(f"{JOBS}/no-such-job", headers=kit.admin), 404, "NOT_FOUND")


def test_an_invalid_id_reads_nothing_and_is_404(kit, no_second_read):
    no_second_read()
    assert_error(kit.client.get(f"{JOBS}/{'x' * 65}", headers=kit.admin), 404, "NOT_FOUND")


def test_a_logged_out_token_gets_401_not_the_job(kit):
    job_id = submit(kit)
    headers = kit.user("ann", "viewer")
    assert kit.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    body = assert_error(kit.client.get(f"{JOBS}/{job_id}", headers=headers), 401, "UNAUTHORIZED")
    assert job_id not in str(body)


def test_a_revoked_api_token_gets_401_not_the_job(kit):
    job_id = submit(kit)
    token_id, viewer = kit.token("dash", "viewer")
    assert kit.client.delete(f"/api/v1/tokens/{token_id}", headers=kit.admin).status_code == 204
    body = assert_error(kit.client.get(f"{JOBS}/{job_id}", headers=viewer), 401, "UNAUTHORIZED")
    assert job_id not in str(body)


def test_a_token_scoped_to_other_queues_gets_404(kit):
    job_id = submit(kit, "qa")
    _, scoped = kit.token("tenant-b", "viewer", queues=["qb"])
    assert_error(kit.client.get(f"{JOBS}/{job_id}", headers=scoped), 404, "NOT_FOUND")


def test_an_anonymous_caller_reads_the_job_itself(make_kit):
    kit = make_kit(anonymous_role="viewer")
    job_id = submit(kit)
    reply = kit.client.get(f"{JOBS}/{job_id}")
    assert reply.status_code == 200 and reply.get_json()["id"] == job_id


def test_other_requests_read_afresh(kit, no_second_read):
    job_id = submit(kit)
    no_second_read()
    # a cancel reads the job itself (not ahead): the patched find shows up as a 500
    assert kit.client.post(f"{JOBS}/{job_id}/cancel", headers=kit.admin).status_code == 500


def test_riders_get_their_own_replies_in_order():
    redis = fakeredis.FakeRedis()
    redis.set("a", "1")
    redis.hset("h", "f", "2")
    first = ReadAhead(lambda pipe: pipe.get("a"), lambda raw: int(raw))
    second = ReadAhead(lambda pipe: pipe.hgetall("h"), lambda raw: raw)
    pipe = redis.pipeline(transaction=False)
    pipe.exists("a")
    pipe.exists("missing")
    own = run_with(pipe, [first, second])
    assert own == [1, 0]
    assert (first.done, first.value) == (True, 1) and second.value == {b"f": b"2"}


def test_a_rider_that_never_ran_is_not_done():
    rider = ReadAhead(lambda pipe: pipe.get("a"), str)
    assert not rider.done and rider.value is None
