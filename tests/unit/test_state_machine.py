"""The Lua job state machine, driven through JobStore and WorkerStore on fakeredis with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import keys
from app.models import JobFilter, JobStatus
from app.store.workers import Outcome, report_progress
from tests.unit.machine import Machine, error, make_machine, ok, task_of


@pytest.fixture
def m() -> Machine:
    return make_machine()


def test_submit_makes_a_pending_job_in_rqs_queue_and_the_indexes(m):
    jid = m.submit("demo.echo", params={"x": 1}, title="T", actor="admin")
    job = m.job(jid)
    assert job.status.value == "pending" and job.queue == "q" and job.params == {"x": 1}
    assert job.created_at == datetime.fromtimestamp(m.clock.s, UTC)
    assert (job.retry_count, job.max_retries, job.timeout_s, job.title, job.actor) == (0, 3, 30, "T", "admin")
    assert m.members(keys.queue_list("q", 0)) == [jid]
    assert m.members(keys.index("queue", "q", "pending")) == [jid]
    assert m.members(keys.index("task", "demo.echo", "pending")) == [jid]
    assert m.members(keys.index("trigger", "MANUAL", "pending")) == [jid]
    assert m.redis.sismember(keys.QUEUES, "q")
    assert m.redis.hget(keys.job(jid), "status") == b"queued"  # rq's word
    assert m.events()[-1]["status"] == "pending"


def test_submit_with_a_future_time_is_scheduled(m):
    jid = m.submit(run_at_s=m.clock.s + 5)
    job = m.job(jid)
    assert job.status.value == "scheduled"
    assert job.run_at == datetime.fromtimestamp(m.clock.s + 5, UTC)
    assert m.redis.zscore(keys.scheduled("q"), jid) == pytest.approx(m.clock.s + 5)
    assert m.members(keys.queue_list("q", 0)) == []
    claim = m.claim()
    assert claim.job is None and claim.due_in_s == pytest.approx(5.0)
    m.clock.advance(4.999)
    assert m.claim().job is None
    m.clock.advance(0.001)
    assert m.take().id == jid


def test_submit_with_a_past_time_is_pending(m):
    assert m.status(m.submit(run_at_s=m.clock.s - 3)) == "pending"


def test_claim_starts_the_job(m):
    jid = m.submit("demo.echo", params={"a": [1, 2]}, timeout_s=7)
    job = m.take()
    assert (job.id, job.queue, job.attempt, job.timeout_s) == (jid, "q", 1, 7)
    assert task_of(job) == ("demo.echo", {"a": [1, 2]})
    view = m.job(jid)
    assert view.status.value == "running" and view.worker_id == "w1" and view.progress == 0
    assert view.started_at == datetime.fromtimestamp(m.clock.s, UTC)
    assert m.redis.zscore(keys.started("q"), f"{jid}:{job.exec_id}") == pytest.approx(m.clock.s + 30)
    assert m.members(keys.queue_list("q", 0)) == []
    assert m.redis.hget(keys.worker("w1"), "current_job") == jid.encode()
    assert m.redis.hget(keys.worker("w1"), "state") == b"busy"


def test_ok_outcome_completes_with_result(m):
    jid = m.submit()
    job = m.take()
    m.clock.advance(2)
    claim = m.claim(ok(job, {"answer": 42}, seconds=2))
    assert claim.finished == "completed" and claim.job is None
    view = m.job(jid)
    assert view.status.value == "completed" and view.result == {"answer": 42} and view.progress == 100
    assert view.duration_ms == 2000 and view.error is None
    assert [(a.attempt, a.status) for a in view.history] == [(1, "completed")]
    assert m.redis.zscore(keys.terminal("q", "completed"), jid) == pytest.approx(m.clock.s + 3600)
    assert m.redis.ttl(keys.job(jid)) == -1  # no TTL: retention trimming deletes it (docs/queues.md)
    assert m.members(keys.started("q")) == []
    assert m.redis.hget(keys.LIFETIME, "q:completed") == b"1"
    assert m.redis.hget(keys.worker("w1"), "state") == b"idle"
    assert int(m.redis.hget(keys.worker("w1"), "successful_job_count")) == 1


def test_errors_retry_with_the_configured_delays_then_fail_with_history(m):
    jid = m.submit(max_retries=3)
    job = m.take()
    m.claim(error(job, "E1"), mode="none")  # delay 0 -> pending at once
    assert (m.status(jid), m.job(jid).retry_count) == ("pending", 1)
    job = m.take()
    assert job.attempt == 2
    claim = m.claim(error(job, "E2"))  # delay 10 -> scheduled
    assert claim.finished == "retry" and claim.job is None and claim.due_in_s == pytest.approx(10)
    view = m.job(jid)
    assert (view.status.value, view.retry_count) == ("scheduled", 2)
    assert view.run_at == datetime.fromtimestamp(m.clock.s + 10, UTC)
    assert m.redis.zscore(keys.retrying("q"), jid) == pytest.approx(m.clock.s + 10)
    m.clock.advance(9.9)
    assert m.claim().job is None
    m.clock.advance(0.1)
    job = m.take()
    assert m.members(keys.retrying("q")) == []
    m.claim(error(job, "E3"))  # delay 60
    m.clock.advance(60)
    job = m.take()
    assert job.attempt == 4
    assert m.claim(error(job, "E4")).finished == "failed"
    view = m.job(jid)
    assert view.status.value == "failed" and view.retry_count == 3 == view.max_retries
    assert view.error == "E4" and view.stacktrace == ["Traceback ...", "E4"]
    assert [(a.attempt, a.status, a.error) for a in view.history] == [
        (1, "failed", "E1"),
        (2, "failed", "E2"),
        (3, "failed", "E3"),
        (4, "failed", "E4"),
    ]
    assert all(a.worker_id == "w1" for a in view.history)
    assert m.members(keys.terminal("q", "failed")) == [jid]


def test_no_retries_fails_at_once(m):
    jid = m.submit(max_retries=0)
    assert m.claim(error(m.take())).finished == "failed"
    assert m.status(jid) == "failed"


def test_refused_job_fails_without_retry(m):
    jid = m.submit(max_retries=5)
    job = m.take()
    assert m.claim(Outcome(job, "refused", 0.0, error="Refused: nope")).finished == "failed"
    view = m.job(jid)
    assert (view.status.value, view.error, view.retry_count) == ("failed", "Refused: nope", 0)


def test_interrupted_job_goes_back_to_the_front(m):
    first, second = m.submit(), m.submit()
    job = m.take()
    assert job.id == first
    assert m.claim(Outcome(job, "interrupted", 1.0, error="shutdown"), mode="none").finished == "requeued"
    view = m.job(first)
    assert view.status.value == "pending" and view.retry_count == 0
    assert [a.status for a in view.history] == ["interrupted"]
    assert m.members(keys.queue_list("q", 0)) == [first, second]
    assert m.listing() == [first, second]
    assert m.take().id == first


def test_a_job_stopped_by_a_command_alone_ends_canceled_not_retried(m):
    jid = m.submit(max_retries=3)  # e.g. rq's send_stop_job_command, which skips cancel.lua
    job = m.take()
    assert m.claim(Outcome(job, "canceled", 1.0, error="canceled")).finished == "canceled"
    view = m.job(jid)
    assert (view.status.value, view.retry_count, view.error) == ("canceled", 0, None)
    assert [a.status for a in view.history] == ["canceled"]
    assert m.claim().job is None


# --- cancel -----------------------------------------------------------------------------------------


def test_cancel_pending(m):
    jid = m.submit()
    assert m.jobs.cancel(jid) == ("ok", "pending")
    assert m.status(jid) == "canceled"
    assert m.members(keys.queue_list("q", 0)) == [] and m.members(keys.index("queue", "q", "pending")) == []
    assert m.members(keys.terminal("q", "canceled")) == [jid]
    assert m.claim().job is None
    assert m.job(jid).history == []  # it never ran


def test_cancel_scheduled_never_runs(m):
    jid = m.submit(run_at_s=m.clock.s + 5)
    assert m.jobs.cancel(jid) == ("ok", "scheduled")
    m.clock.advance(10)
    assert m.claim().job is None
    assert m.status(jid) == "canceled" and m.members(keys.scheduled("q")) == []


def test_cancel_waiting_retry(m):
    jid = m.submit(max_retries=3)
    m.claim(error(m.take()), mode="none")
    m.claim(error(m.take()), mode="none")
    assert m.status(jid) == "scheduled"
    assert m.jobs.cancel(jid) == ("ok", "scheduled")
    assert m.members(keys.retrying("q")) == []
    m.clock.advance(100)
    assert m.claim().job is None


def test_cancel_running_tells_the_worker_and_ignores_its_late_outcome(m):
    jid = m.submit()
    job = m.take()
    pubsub = m.redis.pubsub()
    pubsub.subscribe(keys.RQ_PUBSUB + "w1")
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    assert m.jobs.cancel(jid) == ("ok", "running")
    message = pubsub.get_message(timeout=1)
    assert message is not None and b'"stop-job"' in message["data"] and jid.encode() in message["data"]
    assert m.status(jid) == "canceled" and m.members(keys.started("q")) == []
    assert m.worker().heartbeat(job) is False  # the worker learns it no longer owns the job
    assert m.claim(ok(job, "late")).finished == "stale"
    view = m.job(jid)
    assert view.status.value == "canceled" and view.result is None
    assert m.members(keys.terminal("q", "completed")) == []
    assert [(a.status, a.worker_id) for a in view.history] == [("canceled", "w1")]


@pytest.mark.parametrize("outcome", ["ok", "error"])
def test_cancel_of_a_finished_job_is_a_conflict(m, outcome):
    jid = m.submit(max_retries=0)
    job = m.take()
    m.claim(ok(job) if outcome == "ok" else error(job))
    assert m.jobs.cancel(jid) == ("conflict", "completed" if outcome == "ok" else "failed")


def test_cancel_twice_is_a_conflict(m):
    jid = m.submit()
    m.jobs.cancel(jid)
    assert m.jobs.cancel(jid) == ("conflict", "canceled")


# --- retry and delete -------------------------------------------------------------------------------


def test_retry_a_failed_job_keeps_its_history(m):
    jid = m.submit(max_retries=1)
    m.claim(error(m.take(), "first"), mode="none")
    m.claim(error(m.take(), "second"), mode="none")
    assert m.status(jid) == "failed"
    assert m.jobs.retry(jid) == ("ok", "failed")
    view = m.job(jid)
    assert (view.status.value, view.retry_count, view.error, view.stacktrace) == ("pending", 0, None, None)
    assert [a.error for a in view.history] == ["first", "second"]
    assert m.redis.ttl(keys.job(jid)) == -1  # pending jobs do not expire
    job = m.take()
    assert job.id == jid and job.attempt == 3
    m.claim(ok(job, 1))
    assert [a.status for a in m.job(jid).history] == ["failed", "failed", "completed"]


def test_retry_a_canceled_running_job(m):
    jid = m.submit()
    m.take()
    m.jobs.cancel(jid)
    assert m.jobs.retry(jid) == ("ok", "canceled")
    assert m.status(jid) == "pending"
    assert [a.status for a in m.job(jid).history] == ["canceled"]


@pytest.mark.parametrize("state", ["pending", "running", "completed", "scheduled"])
def test_retry_conflicts_outside_failed_and_canceled(m, state):
    jid = m.submit(run_at_s=m.clock.s + 60 if state == "scheduled" else None)
    if state in ("running", "completed"):
        job = m.take()
        if state == "completed":
            m.claim(ok(job))
    assert m.jobs.retry(jid) == ("conflict", state)


def test_delete_removes_everything(m):
    jid = m.submit()
    m.redis.rpush(keys.logs(jid), "a line")
    assert m.jobs.delete(jid, force=False) == ("ok", "pending")
    assert m.jobs.find(jid) is None
    assert not m.redis.exists(keys.job(jid), keys.logs(jid))
    assert m.members(keys.queue_list("q", 0)) == [] and m.members(keys.index("queue", "q", "pending")) == []
    assert m.members(keys.index("task", "demo.echo", "pending")) == []
    assert m.events()[-1]["status"] == "deleted"


def test_delete_running_needs_force(m):
    jid = m.submit()
    job = m.take()
    assert m.jobs.delete(jid, force=False) == ("conflict", "running")
    assert m.status(jid) == "running"
    assert m.jobs.delete(jid, force=True) == ("ok", "running")
    assert m.jobs.find(jid) is None and m.members(keys.started("q")) == []
    assert m.claim(ok(job)).finished == "stale"
    assert m.jobs.find(jid) is None  # the late outcome does not resurrect it


def test_unknown_job(m):
    for action in (m.jobs.cancel, m.jobs.retry, lambda i: m.jobs.delete(i, False)):
        assert action("nope") == ("missing", None)


# --- retention --------------------------------------------------------------------------------------


def test_trim_keeps_the_newest_by_count():
    m = make_machine(keep=2)
    done = []
    for _ in range(5):
        jid = m.submit()
        m.claim(ok(m.take()), mode="none")
        done.append(jid)
        m.clock.advance(1)
    assert m.members(keys.terminal("q", "completed")) == done[-2:]
    assert [m.jobs.find(j) is None for j in done] == [True, True, True, False, False]
    assert m.members(keys.index("task", "demo.echo", "completed")) == done[-2:]
    assert m.redis.hget(keys.LIFETIME, "q:completed") == b"5"  # lifetime counts survive the trim


def test_trim_by_age_on_maintenance():
    m = make_machine(ttl_s=100)
    jid = m.submit(max_retries=0)
    m.claim(error(m.take()), mode="none")
    m.clock.advance(101)
    m.claim(mode="maint")
    assert m.jobs.find(jid) is None and m.members(keys.terminal("q", "failed")) == []


# --- priority and order -----------------------------------------------------------------------------


def test_priority_then_fifo(m):
    ids = {}
    for name, priority in [("a0", 0), ("b5", 5), ("c-5", -5), ("d5", 5), ("e0", 0), ("f1", 1)]:
        ids[m.submit(priority=priority)] = name
        m.clock.advance(0.001)
    assert [ids[i] for i in m.listing(status=None)] == ["b5", "d5", "f1", "a0", "e0", "c-5"]
    taken = [ids[m.take().id] for _ in range(6)]
    assert taken == ["b5", "d5", "f1", "a0", "e0", "c-5"]


def test_pending_listing_is_run_order_even_within_one_millisecond(m):
    ids = [m.submit(priority=p) for p in (0, 0, 2, 0, 2, 0, 0, 0)]  # the clock does not move
    listed = m.listing()
    taken = [m.take().id for _ in ids]
    assert listed == taken
    assert taken == [ids[2], ids[4], ids[0], ids[1], ids[3], ids[5], ids[6], ids[7]]


def test_paused_queue_gives_no_job(m):
    m.submit()
    m.redis.sadd(keys.PAUSED, "q")
    assert m.claim().job is None
    m.redis.srem(keys.PAUSED, "q")
    assert m.claim().job is not None


def test_queues_are_served_in_order():
    m = make_machine()
    low = m.submit(queue="low")
    high = m.submit(queue="high")
    w = m.worker("w", ("high", "low"))
    assert w.claim("e1", None, "take").job.id == high
    assert w.claim("e2", None, "take").job.id == low


# --- leases, heartbeats, progress ---------------------------------------------------------------------


def test_heartbeat_extends_the_lease(m):
    jid = m.submit()
    job = m.take()
    m.clock.advance(20)
    assert m.worker().heartbeat(job) is True
    assert m.redis.zscore(keys.started("q"), f"{jid}:{job.exec_id}") == pytest.approx(m.clock.s + 30)
    m.clock.advance(20)  # 40 s after the start, but 20 s after the last heartbeat
    m.claim(worker="w2")
    assert m.status(jid) == "running"


def test_abandoned_job_is_retried_by_another_worker(m):
    jid = m.submit(max_retries=2)
    m.take("w1")
    m.clock.advance(30.001)
    job = m.take("w2")
    assert (job.id, job.attempt) == (jid, 2)
    view = m.job(jid)
    assert (view.worker_id, view.retry_count) == ("w2", 1)
    assert view.history[0].error == "abandoned: worker w1 stopped sending heartbeats"


def test_abandoned_job_without_retries_fails(m):
    jid = m.submit(max_retries=0)
    first = m.take("w1")
    m.clock.advance(31)
    assert m.claim(worker="w2").job is None
    view = m.job(jid)
    assert view.status.value == "failed" and view.error.startswith("abandoned")
    assert m.worker("w1").heartbeat(first) is False
    assert m.claim(ok(first), worker="w1").finished == "stale"
    assert m.status(jid) == "failed"


def test_progress_only_from_the_owner(m):
    jid = m.submit()
    job = m.take()
    assert report_progress(m.scripts, jid, job.exec_id, 42.5, "Step 2") is True
    view = m.job(jid)
    assert (view.progress, view.current_step) == (42.5, "Step 2")
    assert report_progress(m.scripts, jid, job.exec_id, 50, None) is True
    assert m.job(jid).current_step == "Step 2"  # no step given: the last one stays
    assert report_progress(m.scripts, jid, "someone-else", 99, "x") is False
    assert m.job(jid).progress == 50


@pytest.mark.parametrize("filters", [{}, {"queue": "q"}, {"queue": "q", "status": JobStatus.RUNNING}])
def test_running_jobs_keep_their_place_in_listings_whatever_the_heartbeats(m, filters):
    first, second, third = m.submit(), m.submit(), m.submit()
    jobs = []
    for _ in range(3):
        jobs.append(m.take(f"w{len(jobs)}"))
        m.clock.advance(1)
    before = m.listing(**filters)
    m.worker("w0").heartbeat(jobs[0])  # its lease now ends last
    assert m.listing(**filters) == before
    assert before[:3] == [first, second, third]  # oldest start first
    walked, cursor = [], None
    while True:
        page = m.jobs.list(JobFilter(**filters), 1, None, cursor)
        walked += [j.id for j in page.jobs]
        m.worker("w1").heartbeat(jobs[1])
        m.clock.advance(0.1)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert walked == before
