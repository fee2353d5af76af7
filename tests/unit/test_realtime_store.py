"""The change stream and the log store on fakeredis: decoding, snapshots, replays, absolute log offsets."""

from __future__ import annotations

from datetime import UTC, datetime

import fakeredis
import pytest

from app import keys
from app.models import JobSpec
from app.services.wiring import build_job_service
from app.store.events import EMPTY_ID, EventStore, entry_key, valid_entry_id
from app.store.logs import LogStore, encode_line
from app.store.scripts import Scripts
from app.tasks import load_task_modules
from tests.conftest import make_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def redis():
    return fakeredis.FakeRedis()


@pytest.fixture
def jobs(redis):
    return build_job_service(make_settings(), redis, load_task_modules(()))


def lines(*messages: str) -> list[str]:
    return [encode_line(T0, "INFO", m) for m in messages]


def running(redis, job_id: str, exec_id: str = "e1") -> None:
    """Pretend a worker runs `job_id` with execution `exec_id` (what claim.lua records)."""
    redis.hset(keys.job(job_id), mapping={"status": "started", "jl_exec": exec_id})


def test_entry_ids_compare_numerically():
    assert entry_key("10-0") > entry_key("9-5")
    assert entry_key("10-2") > entry_key("10-1")
    assert valid_entry_id("1796199268005-1")
    assert not valid_entry_id("abc") and not valid_entry_id("") and not valid_entry_id(None)


def test_submit_is_read_back_as_a_change_event(redis, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop", queue="q1"))
    store = EventStore(redis)
    events, notices, positions = store.read({keys.EVENTS: EMPTY_ID, keys.LOG_FEED: EMPTY_ID}, 0, 10)
    assert [(e.job_id, e.queue, e.status) for e in events] == [(job.id, "q1", "pending")]
    assert notices == []
    assert positions[keys.EVENTS] == events[0].entry_id == store.last_id()


def test_replay_returns_events_after_an_id_filtered_by_job(redis, jobs):
    a, _ = jobs.submit(JobSpec(task="demo.noop"))
    store = EventStore(redis)
    after = store.last_id()
    b, _ = jobs.submit(JobSpec(task="demo.noop"))
    jobs.cancel(a.id)
    replay = store.since(after, store.last_id(), a.id)
    assert replay.complete
    assert [(e.job_id, e.status) for e in replay.events] == [(a.id, "canceled")]
    everything = store.since(after, store.last_id())
    assert [e.job_id for e in everything.events] == [b.id, a.id]


def test_replay_from_a_trimmed_id_is_incomplete(redis, jobs):
    jobs.submit(JobSpec(task="demo.noop"))
    store = EventStore(redis)
    first = store.last_id()
    jobs.submit(JobSpec(task="demo.noop"))
    assert store.since(first, store.last_id()).complete
    redis.xtrim(keys.EVENTS, maxlen=1, approximate=False)
    assert not store.since(first, store.last_id()).complete
    assert not store.since("1-0", store.last_id()).complete


def test_log_lines_get_consecutive_offsets_and_a_feed_notice(redis):
    running(redis, "j1")
    logs = LogStore(Scripts(redis))
    assert logs.append("j1", "e1", lines("a", "b"), 100) == 2
    assert logs.append("j1", "e1", lines("c"), 100) == 3
    chunk = logs.read("j1", 0, 100)
    assert [(line.offset, line.message, line.level) for line in chunk.lines] == [
        (0, "a", "INFO"),
        (1, "b", "INFO"),
        (2, "c", "INFO"),
    ]
    assert chunk.next_offset == 3
    assert [int(f[b"next"]) for _, f in redis.xrange(keys.LOG_FEED)] == [2, 3]


def test_trimmed_logs_keep_absolute_offsets(redis):
    running(redis, "j1")
    logs = LogStore(Scripts(redis))
    logs.append("j1", "e1", lines(*[f"line {i}" for i in range(10)]), 4)
    assert redis.llen(keys.logs("j1")) == 4
    chunk = logs.read("j1", 0, 100)  # offsets 0..5 were trimmed: reading starts at the oldest kept
    assert [line.offset for line in chunk.lines] == [6, 7, 8, 9]
    assert [line.message for line in chunk.lines] == ["line 6", "line 7", "line 8", "line 9"]
    assert logs.read("j1", 8, 1).lines[0].message == "line 8"
    assert logs.read("j1", 8, 1).next_offset == 9
    assert logs.read("j1", 10, 100).lines == [] and logs.read("j1", 10, 100).next_offset == 10
    assert logs.read("j1", 50, 100).next_offset == 50


def test_lines_dropped_by_the_writer_still_count(redis):
    running(redis, "j1")
    logs = LogStore(Scripts(redis))
    logs.append("j1", "e1", lines("a"), 100)
    assert logs.append("j1", "e1", lines("b"), 100, dropped=5) == 7
    assert [line.offset for line in logs.read("j1", 0, 10).lines] == [0, 6]


def test_lines_of_a_stale_execution_or_a_deleted_job_are_refused(redis):
    logs = LogStore(Scripts(redis))
    assert logs.append("gone", "e1", lines("a"), 100) == -1
    assert not redis.exists(keys.logs("gone"))
    running(redis, "j1", exec_id="e2")
    assert logs.append("j1", "e1", lines("a"), 100) == -1
    assert logs.read("j1", 0, 10).lines == []


def test_late_lines_of_an_ended_job_expire_with_it(redis):
    running(redis, "j1")
    redis.expire(keys.job("j1"), 500)
    LogStore(Scripts(redis)).append("j1", "e1", lines("late"), 100)
    assert 0 < redis.ttl(keys.logs("j1")) <= 500


def test_no_logs_read_as_empty_from_the_offset_asked(redis):
    chunk = LogStore(Scripts(redis)).read("nothing", 7, 10)
    assert chunk.lines == [] and chunk.next_offset == 7


def test_state_is_the_stream_view_of_a_job_without_its_payload(redis, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.echo", queue="q7", params={"big": "x" * 1000}))
    state = EventStore(redis).state(job.id)
    assert state is not None
    assert (state.job_id, state.queue, state.status, state.progress) == (job.id, "q7", "pending", None)
    assert state.entry_id == EventStore(redis).last_id()
    assert state.timestamp == job.updated_at
    assert EventStore(redis).state("missing") is None
