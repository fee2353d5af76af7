"""The shared stream reader and the real-time service on fakeredis: fan-out, long poll, feeds, replays."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import fakeredis
import pytest

from app.errors import NotFoundError
from app.models import ChangeEvent, JobSpec, JobStatus
from app.services.hub import PAUSE_FLOOR_S, EventHub, Subscription
from app.services.realtime import HEARTBEAT, Burst, RealtimeService, Reset
from app.services.wiring import build_job_service
from app.store.events import EventStore, LogNotice
from app.store.logs import LogStore
from app.store.scripts import Scripts
from app.tasks import load_task_modules
from tests.conftest import make_settings, poll_until

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(job_id: str, status: str = "running", queue: str = "q1", entry_id: str = "5-0") -> ChangeEvent:
    return ChangeEvent(entry_id, job_id, queue, status, None, None, T0)


@pytest.fixture
def redis():
    return fakeredis.FakeRedis()


@pytest.fixture
def hub(redis):
    hub = EventHub(EventStore(redis), block_ms=50)
    yield hub
    hub.stop()


@pytest.fixture
def jobs(redis):
    return build_job_service(make_settings(), redis, load_task_modules(()))


@pytest.fixture
def service(redis, hub, jobs):
    return RealtimeService(jobs, EventStore(redis), LogStore(Scripts(redis)), hub, heartbeat_s=0.2)


def later(delay_s: float, action) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- the hub ---------------------------------------------------------------------------------------------


def test_events_reach_the_subscribers_of_their_job_and_of_their_queue(hub):
    mine, other = hub.subscribe_job("a"), hub.subscribe_job("b")
    everything, q2_only = hub.subscribe_all(), hub.subscribe_all(["q2"])
    hub.dispatch([event("a", queue="q1"), event("b", queue="q2")], [])
    assert [e.job_id for e in mine.take(0)] == ["a"]
    assert [e.job_id for e in other.take(0)] == ["b"]
    assert [e.job_id for e in everything.take(0)] == ["a", "b"]
    assert [e.job_id for e in q2_only.take(0)] == ["b"]


def test_log_notices_reach_only_log_subscribers():
    hub = EventHub(EventStore(fakeredis.FakeRedis()), block_ms=50)
    plain, follower = hub.subscribe_job("a"), hub.subscribe_job("a", logs=True)
    hub.dispatch([], [LogNotice("a", 3)])
    assert plain.take(0) == []
    assert follower.take(0) == [LogNotice("a", 3)]
    hub.stop()


def test_take_waits_for_the_timeout_when_nothing_comes(hub):
    sub = hub.subscribe_job("a")
    started = time.monotonic()
    assert sub.take(0.1) == []
    assert time.monotonic() - started >= 0.09


def test_a_closed_subscription_gets_nothing_more(hub):
    sub = hub.subscribe_job("a")
    sub.close()
    hub.dispatch([event("a")], [])
    assert sub.take(0) == []
    assert hub.subscriptions == 0


def test_a_full_inbox_drops_the_oldest_and_says_so(hub):
    hub.capacity = 3
    sub = hub.subscribe_job("a")
    hub.dispatch([event("a", entry_id=f"{i}-0") for i in range(5)], [])
    assert sub.overflowed
    assert [e.entry_id for e in sub.take(0)] == ["2-0", "3-0", "4-0"]


def test_a_batch_wakes_each_subscription_once_with_its_events_in_order(hub, monkeypatch):
    sub = hub.subscribe_job("a")
    wakes = []
    real_push_all = Subscription.push_all
    monkeypatch.setattr(
        Subscription, "push_all", lambda self, items: (wakes.append(list(items)), real_push_all(self, items))
    )
    hub.dispatch([event("a", entry_id="1-0"), event("b"), event("a", entry_id="2-0", status="completed")], [])
    assert [[e.entry_id for e in w] for w in wakes] == [["1-0", "2-0"]]
    assert [e.entry_id for e in sub.take(0)] == ["1-0", "2-0"]


def test_a_fan_out_pauses_between_groups_of_wake_ups(hub):
    hub.wake_group = 2
    subs = [hub.subscribe_all() for _ in range(5)]
    log: list[str] = []
    hub.pause = lambda max_s: log.append(f"pause after {sum(1 for s in subs if s._items)}")
    hub.dispatch([event("a")], [])
    assert log == ["pause after 2", "pause after 4"]  # 5 wake-ups in groups of 2: two pauses, none at the end
    assert all(len(s.take(0)) == 1 for s in subs)


def test_sends_to_streams_taken_over_pause_by_time_not_by_count(hub):
    got: list[str] = []
    for n in range(5):
        hub.subscribe_all().attach(lambda items, n=n: got.append(f"sent {n}"))
    hub.pause = lambda max_s: got.append("pause")
    hub.sink_budget_s = 3600  # within the budget: no pause, however many
    hub.dispatch([event("a")], [])
    assert sorted(got) == [f"sent {n}" for n in range(5)]
    got.clear()
    hub.sink_budget_s = 0  # budget spent after every send: a pause between any two
    hub.dispatch([event("a")], [])
    assert got[1::2] == ["pause"] * 4 and sorted(got[::2]) == [f"sent {n}" for n in range(5)]


def test_the_pauses_of_a_batch_wait_a_bounded_time_in_all(hub):
    """The next batch is read once this one is out: pauses that each waited their longest would hold up the
    next change for everyone. The first pause may wait the whole budget, the later ones what is left of it,
    and once it is spent, PAUSE_FLOOR_S each."""
    hub.wake_group, hub.pause_budget_s = 1, 0.004
    for _ in range(6):
        hub.subscribe_all()
    waits: list[float] = []

    def pause(max_s: float) -> None:
        waits.append(max_s)
        time.sleep(0.003)  # busy requests: each pause waits 3 ms

    hub.pause = pause
    hub.dispatch([event("a")], [])
    assert len(waits) == 5
    assert waits[0] == 0.004 and PAUSE_FLOOR_S <= waits[1] <= 0.001  # what the first left of the budget
    assert waits[2:] == [PAUSE_FLOOR_S] * 3  # spent
    waits.clear()
    hub.pause = waits.append  # idle requests: pauses return at once and the budget lasts
    hub.dispatch([event("a")], [])
    assert len(waits) == 5 and all(w > 0.0039 for w in waits)


def test_long_polls_are_woken_before_the_streams_of_a_batch(hub, monkeypatch):
    hub.subscribe_all(), hub.subscribe_job("a")  # two streams
    poll = hub.subscribe_job("a", first=True)
    woken: list[object] = []
    monkeypatch.setattr(Subscription, "push_all", lambda self, items: woken.append(self))
    hub.dispatch([event("a")], [])
    assert woken[0] is poll and len(woken) == 3


def test_the_reader_thread_delivers_what_the_scripts_publish(hub, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop", queue="q1"))
    sub = hub.subscribe_job(job.id)
    jobs.cancel(job.id)
    got = poll_until(lambda: sub.take(0.05), timeout_s=5)
    assert [(e.job_id, e.status) for e in got] == [(job.id, "canceled")]
    assert hub.stats()["subscriptions"] == 1


# --- long poll -------------------------------------------------------------------------------------------


def test_poll_answers_at_once_when_the_status_already_differs(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    started = time.monotonic()
    assert service.poll(job.id, 30, JobStatus.RUNNING).status is JobStatus.PENDING
    assert service.poll(job.id, 30, None).status is JobStatus.PENDING
    assert time.monotonic() - started < 5


def test_poll_returns_the_job_unchanged_at_the_timeout(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    started = time.monotonic()
    assert service.poll(job.id, 0.3, JobStatus.PENDING).status is JobStatus.PENDING
    assert time.monotonic() - started >= 0.3


def test_poll_wakes_on_a_status_change(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    later(0.2, lambda: jobs.cancel(job.id))
    started = time.monotonic()
    assert service.poll(job.id, 30, JobStatus.PENDING).status is JobStatus.CANCELED
    assert time.monotonic() - started < 10


def test_a_woken_poll_reads_its_job_in_one_turn_ahead_of_others(service, jobs):
    turns: list[str] = []

    def wait_turn(urgent=False, then=None):
        turns.append("urgent" if urgent else "turn")
        return then() if then is not None else None

    service.wait_turn = wait_turn
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    service.poll(job.id, 30, JobStatus.RUNNING)  # answers at once: the opening waited (read, answer)
    assert turns == ["turn"] * 2
    later(0.2, lambda: jobs.cancel(job.id))
    assert service.poll(job.id, 30, JobStatus.PENDING).status is JobStatus.CANCELED
    # opening (before the read, after it), then woken: one urgent turn, the read done holding it
    assert turns == ["turn"] * 4 + ["urgent"]


def test_polls_woken_by_one_change_read_the_job_once(service, jobs):
    n = 3
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    woken = threading.Barrier(n)

    def wait_turn(urgent=False, then=None):
        if urgent:
            woken.wait(5)  # all of them woke (and want the read) before any reads
        return then() if then is not None else None

    class Counting:
        reads: list[str] = []

        def get(self, job_id: str):
            self.reads.append(job_id)
            return jobs.get(job_id)

    service.wait_turn, service.jobs = wait_turn, Counting()
    answers: list[JobStatus] = []
    polls = [
        threading.Thread(target=lambda: answers.append(service.poll(job.id, 30, JobStatus.PENDING).status))
        for _ in range(n)
    ]
    for poll in polls:
        poll.start()
    poll_until(lambda: service.hub.subscriptions == n)
    jobs.cancel(job.id)
    for poll in polls:
        poll.join(10)
    assert answers == [JobStatus.CANCELED] * n
    assert Counting.reads == [job.id]  # one read for the three of them, begun after the change
    assert len(service.woken_reads) == 0


def test_poll_of_a_job_deleted_meanwhile_is_not_found(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    later(0.2, lambda: jobs.delete(job.id))
    with pytest.raises(NotFoundError):
        service.poll(job.id, 30, JobStatus.PENDING)


def test_poll_of_an_unknown_job_is_not_found_and_leaves_no_subscription(service, hub):
    with pytest.raises(NotFoundError):
        service.poll("missing", 1, JobStatus.PENDING)
    with pytest.raises(NotFoundError):
        service.poll("bad id!", 1, JobStatus.PENDING)
    assert hub.subscriptions == 0


# --- feeds -----------------------------------------------------------------------------------------------


def test_job_feed_starts_with_the_state_and_ends_after_the_final_change(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    feed = service.job_feed(job.id)
    items = iter(feed)
    first = next(items)
    assert (first.job_id, first.status) == (job.id, "pending")
    later(0.1, lambda: jobs.cancel(job.id))
    rest = [i for i in items if i is not HEARTBEAT]
    assert [e.status for e in rest] == ["canceled"]
    assert rest[0].entry_id > first.entry_id


def test_job_feed_of_an_ended_job_is_its_state_alone(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    jobs.cancel(job.id)
    assert [e.status for e in service.job_feed(job.id)] == ["canceled"]


def test_events_that_arrive_together_leave_together(service, jobs, hub):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    feed = service.job_feed(job.id)
    chunks = feed.chunks()
    assert next(chunks).status == "pending"
    hub.dispatch([event(job.id, "running", entry_id="9999999999998-0"),
                  event(job.id, "completed", entry_id="9999999999999-0")], [])  # fmt: skip
    burst = next(chunks)
    assert isinstance(burst, Burst) and [e.status for e in burst] == ["running", "completed"]
    assert next(chunks, None) is None  # the final event ends the feed


def test_iterating_a_feed_gives_a_bursts_events_one_by_one(service, jobs, hub):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    feed = service.job_feed(job.id)
    hub.dispatch([event(job.id, "running", entry_id="9999999999998-0"),
                  event(job.id, "completed", entry_id="9999999999999-0")], [])  # fmt: skip
    assert [e.status for e in feed] == ["pending", "running", "completed"]


def test_job_feed_sends_heartbeats_while_idle(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    items = iter(service.job_feed(job.id))
    next(items)
    assert next(items) is HEARTBEAT


def test_job_feed_replays_what_a_reconnecting_client_missed(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    seen = next(iter(service.job_feed(job.id))).entry_id
    jobs.cancel(job.id)
    jobs.retry(job.id)
    jobs.cancel(job.id)
    replayed = list(service.job_feed(job.id, last_event_id=seen))
    assert [e.status for e in replayed] == ["canceled", "pending", "canceled"]
    assert service.job_feed(job.id, last_event_id=replayed[-1].entry_id).ended  # it saw the end


def test_job_feed_with_an_id_older_than_the_stream_sends_the_current_state(service, jobs):
    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    jobs.cancel(job.id)
    assert [e.status for e in service.job_feed(job.id, last_event_id="1-0")] == ["canceled"]


def test_job_feed_with_a_trimmed_id_sends_the_current_state(service, jobs, redis):
    from app import keys

    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    jobs.submit(JobSpec(task="demo.noop"))
    redis.xtrim(keys.EVENTS, maxlen=1, approximate=False)
    items = iter(service.job_feed(job.id, last_event_id="1-0"))
    first = next(items)
    assert (first.job_id, first.status) == (job.id, "pending")


def test_all_feed_filters_by_queue_and_resets_a_client_too_far_behind(service, jobs, redis):
    from app import keys

    feed = iter(service.all_feed(frozenset({"q2"})))
    jobs.submit(JobSpec(task="demo.noop", queue="q1"))
    b, _ = jobs.submit(JobSpec(task="demo.noop", queue="q2"))
    got = next(i for i in feed if i is not HEARTBEAT)
    assert (got.job_id, got.queue) == (b.id, "q2")
    redis.xtrim(keys.EVENTS, maxlen=1, approximate=False)
    first = next(iter(service.all_feed(None, last_event_id="1-0")))
    assert isinstance(first, Reset)


def test_jobs_of_queues_the_caller_may_not_see_are_not_found(service, jobs, hub):
    job, _ = jobs.submit(JobSpec(task="demo.noop", queue="secret"))
    hidden = {"may_see": lambda queue: queue != "secret"}
    with pytest.raises(NotFoundError):
        service.poll(job.id, 30, JobStatus.PENDING, **hidden)
    with pytest.raises(NotFoundError):
        service.poll(job.id, 30, None, **hidden)
    with pytest.raises(NotFoundError):
        service.job_feed(job.id, **hidden)
    with pytest.raises(NotFoundError):
        service.log_feed(job.id, 0, **hidden)
    assert hub.subscriptions == 0


def test_log_feed_follows_new_lines_until_the_job_ends(service, jobs, redis):
    from app import keys
    from app.store.logs import encode_line

    job, _ = jobs.submit(JobSpec(task="demo.noop"))
    redis.hset(keys.job(job.id), "jl_exec", "e1")
    logs = LogStore(Scripts(redis))
    logs.append(job.id, "e1", [encode_line(T0, "INFO", "one")], 100)
    items = iter(service.log_feed(job.id, 0))
    assert next(items).message == "one"
    later(0.1, lambda: logs.append(job.id, "e1", [encode_line(T0, "INFO", "two")], 100))
    assert next(i for i in items if i is not HEARTBEAT).message == "two"
    later(0.1, lambda: jobs.cancel(job.id))
    assert [i for i in items if i is not HEARTBEAT] == []  # ends with the job
    assert service.log_feed(job.id, 2).ended  # nothing after offset 1 and the job is over
