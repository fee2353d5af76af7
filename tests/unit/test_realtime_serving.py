"""Serving configuration for real time: worker classes, connection limits, settings, draining."""

from __future__ import annotations

import pytest

from app.api.server import WORKER_CLASSES, gunicorn_options
from app.errors import ConfigError
from app.services.hub import EventHub
from app.settings import Settings
from app.store.events import EventStore
from tests.conftest import make_settings


def test_gevent_is_the_default_worker_class_with_many_connections():
    options = gunicorn_options(make_settings(), "127.0.0.1", 8080)
    assert options["worker_class"] == "app.api.serving.JoblineGeventWorker"
    assert options["worker_connections"] == 4000


def test_gthread_can_be_chosen_and_sized():
    s = Settings.from_env({"JOBLINE_API_WORKER_CLASS": "gthread", "JOBLINE_API_THREADS": "500"})
    options = gunicorn_options(s, "0.0.0.0", 80)
    assert options["worker_class"] == WORKER_CLASSES["gthread"]
    assert options["threads"] == 500


def test_the_worker_classes_import():
    from app.api import serving

    assert serving.JoblineGeventWorker and serving.JoblineThreadWorker


def test_real_time_settings_are_read_and_checked():
    s = Settings.from_env(
        {"JOBLINE_LOG_LINES": "50", "JOBLINE_LOG_LINE_CHARS": "200", "JOBLINE_SSE_HEARTBEAT": "2.5"}
    )
    assert (s.log_lines, s.log_line_chars, s.sse_heartbeat_s) == (50, 200, 2.5)
    assert Settings().log_lines == 1000 and Settings().sse_heartbeat_s == 15.0
    for bad in ({"JOBLINE_API_WORKER_CLASS": "sync"}, {"JOBLINE_LOG_LINES": "-1"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


def test_drain_ends_waiting_and_later_subscriptions(fake_redis):
    hub = EventHub(EventStore(fake_redis), block_ms=50)
    waiting = hub.subscribe_job("a")
    hub.drain()
    assert waiting.ended and waiting.take(30) == []  # returns at once
    assert hub.subscribe_all().ended
    hub.stop()


def test_drain_of_an_app_reaches_its_hub(app):
    from app.api.serving import drain

    hub = app.extensions["jobline"].extra["realtime"].hub
    drain(app)
    assert hub.draining
    drain(object())  # anything else is left alone


def test_tune_gc_freezes_start_up_objects_and_spaces_out_full_collections():
    import gc

    from app.api.server import GC_FULL_EVERY, tune_gc

    saved = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (saved[0], saved[1], GC_FULL_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_events_of_a_burst_are_framed_into_one_write():
    from app.api.sse import PREAMBLE, sse_response
    from app.services.realtime import Burst, Feed

    class Sub:
        def close(self) -> None:
            pass

    from flask import Flask

    feed = Feed(Sub(), iter([Burst(["a", "b"]), "c"]))  # type: ignore[arg-type]
    with Flask(__name__).test_request_context():
        response = sse_response(feed, lambda item: f"data: {item}\n\n".encode())
    assert list(response.response) == [PREAMBLE, b"data: a\n\ndata: b\n\n", b"data: c\n\n"]


def test_yield_to_requests_lets_ready_greenlets_run_first_and_never_waits_long():
    import time

    import gevent

    from app.api.serving import PAUSE_MAX_S, yield_to_requests

    ran: list[str] = []
    gevent.spawn(ran.append, "ready request")
    yield_to_requests()
    assert ran == ["ready request"]

    def busy() -> None:  # a loop that is never idle
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            gevent.sleep(0)

    spinner = gevent.spawn(busy)
    gevent.sleep(0)
    started = time.monotonic()
    yield_to_requests()
    assert time.monotonic() - started < PAUSE_MAX_S + 0.05
    spinner.kill()


def test_requests_that_wait_for_events_are_told_apart():
    from app.api.serving import waits

    def env(path: str, query: str = "") -> dict[str, str]:
        return {"PATH_INFO": path, "QUERY_STRING": query}

    for path in (
        "/api/v1/jobs/x/stream",
        "/api/v1/jobs/x/poll",
        "/api/v1/events",
        "/compileo/status/x/stream",
    ):
        assert waits(env(path))
    assert waits(env("/api/v1/jobs/x/logs", "follow=true"))
    for path in ("/api/v1/jobs/x", "/api/v1/jobs/x/logs", "/api/v1/jobs", "/metrics"):
        assert not waits(env(path))


def test_the_gevent_app_lets_waiting_requests_wait_their_turn_and_marks_stream_bodies():
    from app.api.serving import gevent_app
    from app.api.sse import StreamBody

    turns: list[str] = []

    class Feed:
        def close(self) -> None:
            pass

    body = StreamBody(iter(()), Feed(), bytes)  # type: ignore[arg-type]

    def app(environ, start_response):
        return body if environ["PATH_INFO"].endswith("/stream") else [b"{}"]

    wsgi = gevent_app(app, lambda: turns.append("turn"))
    assert wsgi({"PATH_INFO": "/api/v1/jobs/x"}, print) == [b"{}"] and turns == []
    environ = {"PATH_INFO": "/api/v1/jobs/x/stream"}
    assert wsgi(environ, print) is body and turns == ["turn"]
    assert body.server[:2] == (environ, print)


def test_turns_go_one_at_a_time_and_after_ready_requests():
    import gevent

    from app.api.serving import Turns

    turns, order = Turns(), []

    def burst(n: int) -> None:
        turns()
        order.append(f"burst {n}")
        gevent.spawn(order.append, f"request ready after burst {n}")  # e.g. a Redis reply for a plain GET

    gevent.joinall([gevent.spawn(burst, n) for n in range(3)])
    # gevent.idle() alone would let all three run back to back; with turns a ready request goes between
    assert order == [
        "burst 0",
        "request ready after burst 0",
        "burst 1",
        "request ready after burst 1",
        "burst 2",
        "request ready after burst 2",
    ]
    assert len(turns) == 0 and not turns._busy


def test_urgent_turns_go_first_and_a_waiter_killed_passes_nothing_on():
    import gevent

    from app.api.serving import Turns

    turns, order = Turns(), []

    def waiter(name: str, urgent: bool) -> None:
        turns(urgent=urgent)
        order.append(name)

    first = gevent.spawn(waiter, "first", False)
    gevent.sleep(0)  # it has the turn, waiting for the loop to be idle
    others = [gevent.spawn(waiter, "stream", False), gevent.spawn(waiter, "killed", False)]
    others.append(gevent.spawn(waiter, "poll", True))
    gevent.sleep(0)
    assert len(turns) == 3
    others[1].kill()
    gevent.joinall([first, *others])
    assert order == ["first", "poll", "stream"]
    assert len(turns) == 0 and not turns._busy


def test_a_turn_is_held_while_what_it_was_taken_for_runs():
    import gevent

    from app.api.serving import Turns

    turns, order = Turns(), []

    def read() -> str:
        gevent.spawn(lambda: (turns(), order.append("other")))
        gevent.sleep(0.01)  # a Redis round trip: the other request's turn waits for it
        order.append("read")
        return "job"

    assert turns(urgent=True, then=read) == "job"
    gevent.sleep(0.05)
    assert order == ["read", "other"] and not turns._busy


def test_an_urgent_turn_waits_for_an_idle_loop_less_long(monkeypatch):
    from app.api import serving

    waited: list[float] = []
    monkeypatch.setattr(serving, "yield_to_requests", waited.append)
    turns = serving.Turns()
    turns()
    turns(urgent=True)
    assert waited == [serving.PAUSE_MAX_S, serving.URGENT_PAUSE_MAX_S]
    assert serving.URGENT_PAUSE_MAX_S < serving.PAUSE_MAX_S
