"""redis-py under gevent, as the API's gevent worker runs it: one wait per command, dead connections replaced.

Run in a child process: gevent's monkey-patching must not touch the test runner.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

PROBE = """
from gevent import monkey; monkey.patch_all()
import json, select, sys, greenlet, redis
from app.store.connection import non_yielding_checks

gevent_poll, gevent_checks = select.poll, [0]  # redis-py looks select.poll up at each check


class CountingPoll:
    def __init__(self):
        self._poll = gevent_poll()

    def register(self, *args):
        self._poll.register(*args)

    def poll(self, timeout=None):
        gevent_checks[0] += timeout == 0  # a zero-timeout check made with gevent's poll (it parks)
        return self._poll.poll(timeout)


select.poll = CountingPoll

url, fix = sys.argv[1], sys.argv[2] == "fix"
pool = redis.BlockingConnectionPool.from_url(url, max_connections=2, client_name="probe")
r, admin = redis.Redis(connection_pool=pool), redis.Redis.from_url(url)
applied = [non_yielding_checks(), non_yielding_checks()] if fix else []
r.set("x", "1")
switches = [0]

def count(event, args):
    if event == "switch":
        switches[0] += 1

def waits(call):
    switches[0] = 0
    greenlet.settrace(count)
    try:
        call()
    finally:
        greenlet.settrace(None)
    return switches[0]

def pipelined():
    pipe = r.pipeline(transaction=False)
    pipe.get("x")
    pipe.exists("y")
    return pipe.execute()

gevent_checks[0] = 0
get, pipe = waits(lambda: r.get("x")), waits(pipelined)
checks = gevent_checks[0]
before = r.client_id()
admin.client_kill_filter(_id=before)
after_kill = r.get("x")  # the pool's check finds the closed connection and opens another
replaced = r.client_id() != before
print(json.dumps({"applied": applied, "get": get, "pipeline": pipe, "gevent_checks": checks,
                  "after_kill": after_kill.decode(), "replaced": replaced}))
"""


def probe(url: str, fix: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, url, "fix" if fix else "plain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_command_waits_once_not_twice_and_dead_connections_are_still_replaced(redis_server, real_redis):
    plain, fixed = probe(redis_server.url, False), probe(redis_server.url, True)
    assert fixed["applied"] == [True, False]  # applied once; a second call changes nothing
    # gevent's poll(0) parked each command once more before it was sent; the fix makes those checks with the
    # system's poll (counted, not timed: how often the plain probe switches depends on when Redis replies)
    assert plain["gevent_checks"] >= 2 and fixed["gevent_checks"] == 0
    # at most one wait per command: to the hub for the reply and back (none when the reply is already
    # there as the command reads it, as on a loaded machine where the probe gets the CPU late)
    assert fixed["get"] in (0, 2) and fixed["pipeline"] in (0, 2)
    assert fixed["after_kill"] == plain["after_kill"] == "1"
    assert fixed["replaced"] and plain["replaced"]
