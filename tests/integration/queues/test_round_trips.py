"""Redis round trips per API call, counted on the wire: they must not grow with the number of jobs."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis
from redis.connection import Connection, ConnectionPool

from app.api import create_app
from tests.conftest import login

pytestmark = pytest.mark.integration


class Counting(Connection):
    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        Counting.sends += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def counted(real_settings, real_redis):
    pool = ConnectionPool.from_url(real_settings.redis_url, connection_class=Counting)
    client = Redis(connection_pool=pool)
    app = create_app(real_settings, client)
    http = app.test_client()
    headers = login(http)
    for _ in range(120):
        reply = http.post("/api/v1/jobs", json={"task": "demo.noop", "queue": "rt"}, headers=headers)
        assert reply.status_code == 201

    def trips(url: str) -> int:
        http.get(url, headers=headers)  # the first call of a script in a new server loads it (NOSCRIPT)
        Counting.sends = 0
        reply = http.get(url, headers=headers)
        assert reply.status_code == 200, reply.get_json()
        return Counting.sends

    return trips


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/v1/queues/rt?status=pending&limit=50&page=2", 2),  # auth + page.lua with the counts
        ("/api/v1/queues/rt?limit=50", 2),
        ("/api/v1/jobs?status=pending&limit=50", 2),  # auth + page.lua
        ("/api/v1/jobs?queue=rt&limit=50&page=3", 2),
        ("/api/v1/queues", 3),  # auth + names and workers + every count in one reads.lua call
        ("/api/v1/jobs/stats", 3),  # auth + names, workers, lifetime + counts, heads, buckets in one call
    ],
)
def test_round_trips_per_call_including_the_auth_check(counted, url, expected):
    assert counted(url) == expected


def test_the_reads_script_answers_from_one_moment_and_refuses_anything_but_cheap_reads(real_redis):
    from redis.exceptions import ResponseError

    from app.store.queues import QueueStore

    real_redis.hset("h", mapping={"a": "1"})
    real_redis.zadd("z", {"m1": 5, "m2": 7})
    store = QueueStore(real_redis)
    got = store.read([["HGETALL", "h"], ["ZRANGEBYSCORE", "z", "(0", "+inf", "WITHSCORES", "LIMIT", "0", "1"],
                      ["ZCARD", "z"], ["LLEN", "nothing"]])  # fmt: skip
    assert got == [{b"a": b"1"}, [(b"m1", 5.0)], 2, 0]
    for bad in (["KEYS", "*"], ["ZRANGEBYSCORE", "z", "-inf", "+inf"], ["DEL", "h"]):
        with pytest.raises(ResponseError, match="reads.lua"):
            store.read([bad])
    assert real_redis.exists("h")


def test_a_job_is_read_in_the_auth_checks_round_trip(real_settings, real_redis):
    """GET /jobs/{id}: the job rides in the session (or API token) lookup; a refused caller gets no job."""
    pool = ConnectionPool.from_url(real_settings.redis_url, connection_class=Counting)
    http = create_app(real_settings, Redis(connection_pool=pool)).test_client()
    admin = login(http)
    job_id = http.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=admin).get_json()["id"]
    token = http.post("/api/v1/tokens", json={"name": "dash", "role": "viewer"}, headers=admin).get_json()
    logged_out = login(http)
    assert http.post("/api/v1/auth/logout", headers=logged_out).status_code == 204
    callers = [(admin, 200), ({"Authorization": f"Bearer {token['token']}"}, 200), (logged_out, 401)]
    for headers, status in callers:
        Counting.sends = 0
        reply = http.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert reply.status_code == status and Counting.sends == 1
        assert (job_id in reply.get_data(as_text=True)) == (status == 200)
