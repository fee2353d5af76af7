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
import json, sys, greenlet, redis
from app.store.connection import non_yielding_checks

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

get, pipe = waits(lambda: r.get("x")), waits(pipelined)
before = r.client_id()
admin.client_kill_filter(_id=before)
after_kill = r.get("x")  # the pool's check finds the closed connection and opens another
replaced = r.client_id() != before
print(json.dumps({"applied": applied, "get": get, "pipeline": pipe, "after_kill": after_kill.decode(),
                  "replaced": replaced}))
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
    assert fixed["get"] < plain["get"] and fixed["pipeline"] < plain["pipeline"]
    assert fixed["get"] == 2 and fixed["pipeline"] == 2  # to the hub for the reply, and back
    assert fixed["after_kill"] == plain["after_kill"] == "1"
    assert fixed["replaced"] and plain["replaced"]
