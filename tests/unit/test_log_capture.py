"""Log capture in the worker's child, on fakeredis: logging and stdout lines, bounds, ordering, refusals."""

from __future__ import annotations

import io
import logging

import fakeredis
import pytest
from redis import Redis

from app import keys
from app.store.logs import LogStore
from app.store.scripts import Scripts
from workers.logs import CaptureHandler, LogCapture, StreamTee, cap, finish_job


@pytest.fixture
def redis():
    r = fakeredis.FakeRedis()
    r.hset(keys.job("j1"), mapping={"status": "started", "jl_exec": "e1"})
    return r


@pytest.fixture
def store(redis):
    return LogStore(Scripts(redis))


def stored(store, job_id="j1"):
    return [(line.offset, line.level, line.message) for line in store.read(job_id, 0, 10000).lines]


def test_lines_are_stored_in_order_when_the_job_ends(store):
    capture = LogCapture(store, max_lines=100, max_chars=100, flush_every_s=10)
    capture.begin("j1", "e1")
    for i in range(3):
        capture.add("INFO", f"line {i}")
    capture.end()
    assert stored(store) == [(0, "INFO", "line 0"), (1, "INFO", "line 1"), (2, "INFO", "line 2")]
    capture.add("INFO", "after the job")  # belongs to no job
    capture.end()
    assert len(stored(store)) == 3


def test_the_background_thread_ships_lines_while_the_job_runs(store):
    from tests.conftest import poll_until

    capture = LogCapture(store, max_lines=100, max_chars=100, flush_every_s=0.01)
    capture.begin("j1", "e1")
    capture.add("WARNING", "early")
    assert poll_until(lambda: stored(store), timeout_s=5) == [(0, "WARNING", "early")]
    capture.end()


def test_a_flood_keeps_the_newest_lines_with_absolute_offsets(store):
    capture = LogCapture(store, max_lines=10, max_chars=100, flush_every_s=10)
    capture.begin("j1", "e1")
    for i in range(25):
        capture.add("INFO", f"line {i}")
    capture.end()
    assert [(o, m) for o, _, m in stored(store)] == [(i, f"line {i}") for i in range(15, 25)]


def test_long_lines_are_cut():
    assert cap("x" * 10, 4) == "xxxx... [6 more characters]"
    assert cap("short", 10) == "short"


def test_lines_of_a_canceled_execution_are_dropped(redis, store):
    capture = LogCapture(store, max_lines=100, max_chars=100, flush_every_s=10)
    capture.begin("j1", "e1")
    capture.add("INFO", "before")
    capture.flush()
    redis.hset(keys.job("j1"), "jl_exec", "e2")  # taken over by another execution
    capture.add("INFO", "after")
    capture.end()
    assert [m for _, _, m in stored(store)] == ["before"]


def test_redis_trouble_drops_lines_but_keeps_offsets_counting(redis, store):
    capture = LogCapture(store, max_lines=100, max_chars=100, flush_every_s=10)
    capture.begin("j1", "e1")
    capture.add("INFO", "a")
    capture.flush()
    broken = LogStore(Scripts(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)))
    capture.store = broken
    capture.add("INFO", "lost")
    capture.flush()
    capture.store = store
    capture.add("INFO", "b")
    capture.end()
    assert [(o, m) for o, _, m in stored(store)] == [(0, "a"), (2, "b")]


def test_stdout_is_split_into_lines_and_passed_on(store):
    capture = LogCapture(store, max_lines=100, max_chars=20, flush_every_s=10)
    capture.begin("j1", "e1")
    real = io.StringIO()
    tee = StreamTee(capture, "STDOUT", real)
    print("hello", "world", file=tee)
    tee.write("no newline")
    tee.write(" yet\nx" + "y" * 25)
    tee.write("\npartial")
    finish_job(capture, [tee])
    assert real.getvalue() == "hello world\nno newline yet\nx" + "y" * 25 + "\npartial"
    assert [(lvl, m) for _, lvl, m in stored(store)] == [
        ("STDOUT", "hello world"),
        ("STDOUT", "no newline yet"),
        ("STDOUT", "x" + "y" * 19),  # an endless line is cut into pieces of the longest length
        ("STDOUT", "y" * 6),
        ("STDOUT", "partial"),
    ]


def test_logging_records_carry_their_level_and_traceback(store):
    capture = LogCapture(store, max_lines=100, max_chars=1000, flush_every_s=10)
    logger = logging.getLogger("tests.capture")
    handler = CaptureHandler(capture, logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        capture.begin("j1", "e1")
        logger.debug("too detailed")
        logger.info("step %d of %d", 1, 2)
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
        capture.end()
    finally:
        logger.removeHandler(handler)
    lines = stored(store)
    assert lines[0] == (0, "INFO", "step 1 of 2")
    assert lines[1][1] == "ERROR" and lines[1][2].startswith("failed\nTraceback")
    assert "ValueError: boom" in lines[1][2]
    assert len(lines) == 2
