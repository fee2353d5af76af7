"""gunicorn worker classes for the API: on SIGTERM, open long polls and event streams end at once.

Without this a stopping process would hold every open stream until gunicorn's graceful timeout; with it,
streams close within a second and their clients reconnect (with Last-Event-ID) to a live process.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

import gevent
import gevent.event
from gevent.monkey import MonkeyPatchWarning
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.gthread import ThreadWorker

from app.api.sse import StreamBody
from app.store.connection import non_yielding_checks

# Longest a fan-out waits for ready requests between two groups of stream wake-ups.
PAUSE_MAX_S = 0.01
# A woken long poll's turn waits for an idle loop at most this long: its latency counts, a stream's opening
# does not (interleaved A/B, docs/benchmarks.md: long-poll p99 38.5 / 33.4 ms with 10 ms, 28.3 / 30.3 with 2).
URGENT_PAUSE_MAX_S = 0.002


def realtime_service(app: Any) -> Any:
    """The real-time service of the app a worker serves, or None."""
    services = getattr(app, "extensions", {}).get("jobline")
    if services is not None:
        return services.extra.get("realtime")
    return None


def event_hub(app: Any) -> Any:
    """The event hub of the app a worker serves, or None (no real-time service)."""
    service = realtime_service(app)
    return service.hub if service is not None else None


def drain(app: Any) -> None:
    """End the real-time requests of the app a worker serves (its event hub tells every subscriber)."""
    hub = event_hub(app)
    if hub is not None:
        hub.drain()


def yield_to_requests(max_s: float = PAUSE_MAX_S) -> None:
    """Let the requests that are ready run first (until the event loop is idle), for at most `max_s`.

    An event goes to every stream watching it; woken all at once, a hundred streams would run back to back
    ahead of a plain GET that arrived meanwhile (and ahead of that GET's Redis replies). Between groups of
    wake-ups the hub waits here, so ready requests go first and the fan-out takes the idle time.
    """
    with gevent.Timeout(max_s, False):
        gevent.idle()


class Turns:
    """One at a time, when the event loop has nothing else ready: the turn of a request that woke with many.

    When a job changes, its long polls wake together and its streams' clients reconnect together. Each
    such request (and each new connection, before its request is read) waits for its turn at the few
    points where it would otherwise run ahead of ready requests: a plain GET on an open connection (and
    its Redis replies) goes before the whole burst, between any two of them. gevent's `idle()` alone
    would release every waiter in the same loop iteration, back to back; turns release them one per idle
    moment. Urgent waiters (a woken long poll, whose latency counts) go before the others and wait for an
    idle loop at most URGENT_PAUSE_MAX_S.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[int, int, Any]] = []  # a heap: (0 urgent | 1, arrival, event)
        self._arrivals = itertools.count()
        self._busy = False

    def __call__(self, urgent: bool = False, then: Callable[[], Any] | None = None) -> Any:
        """Wait for the turn and an idle loop; then run `then` (if given) still holding it, and return its
        result: a woken long poll reads its job in one turn instead of queueing again after the read."""
        if self._busy or self._waiting:
            turn = gevent.event.Event()
            entry = (0 if urgent else 1, next(self._arrivals), turn)
            heapq.heappush(self._waiting, entry)
            try:
                turn.wait()
            except BaseException:  # killed while waiting: hand the turn on if it had come, else leave
                if turn.is_set():
                    self._next()
                else:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                raise
        self._busy = True
        try:
            yield_to_requests(URGENT_PAUSE_MAX_S if urgent else PAUSE_MAX_S)
            return then() if then is not None else None
        finally:
            self._next()

    def _next(self) -> None:
        if self._waiting:
            heapq.heappop(self._waiting)[2].set()  # the turn passes on: still busy
        else:
            self._busy = False

    def __len__(self) -> int:
        return len(self._waiting)


WAITING_PATHS = ("/stream", "/poll", "/events")  # requests that wait for events (and logs?follow=true)


def waits(environ: dict[str, Any]) -> bool:
    """Is this a request that waits for events: a stream, a long poll, a log follower?"""
    path = environ.get("PATH_INFO", "")
    return path.endswith(WAITING_PATHS) or (
        path.endswith("/logs") and "follow" in environ.get("QUERY_STRING", "")
    )


def gevent_app(app: Any, wait_turn: Callable[..., None]) -> Any:
    """The app as the gevent worker serves it.

    A request that will wait for events (opening a stream, a long poll) first waits for its turn (Turns):
    when a job ends, its watchers reconnect in a burst, and a plain GET should not queue behind them. An
    event stream's body learns the request's environ, start_response and start time, which the worker
    needs to take the stream over.
    """

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        started = datetime.now()
        if waits(environ):
            wait_turn()
        body = app(environ, start_response)
        if type(body) is StreamBody:
            body.server = (environ, start_response, started)
        return body

    return wsgi


class JoblineGeventWorker(GeventWorker):  # type: ignore[misc]
    """gevent: every request a greenlet, so thousands of idle streams cost little memory and no thread."""

    def patch(self) -> None:
        # The CLI imported redis (hence ssl) before this worker existed; no SSL context was made by then,
        # so patching later is safe here and the warning would only alarm operators.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()
        non_yielding_checks()  # one wait per Redis command instead of two (app/store/connection.py)

    wsgi: Any  # set by gunicorn's load_wsgi
    outlets: Any = None
    turns: Turns | None = None
    flask_app: Any = None  # self.wsgi wrapped by gevent_app: drain needs the app itself

    def load_wsgi(self) -> None:
        from app.api.handoff import Outlets

        super().load_wsgi()
        app: Any = self.wsgi
        self.flask_app = app
        service = realtime_service(app)
        if service is None:
            return
        service.hub.pause = yield_to_requests
        service.wait_turn = self.turns = Turns()
        self.outlets = Outlets(service.heartbeat_s, self.worker_connections, yield_to_requests)
        self.wsgi = gevent_app(app, self.turns)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        """A new connection's request is read in its turn (streams' clients reconnect in herds): requests
        on open connections go first."""
        if self.turns is not None:
            self.turns()
        super().handle(listener, client, addr)

    def is_already_handled(self, respiter: Any) -> bool:
        """A live event stream is taken over by the process's writer (app/api/handoff.py): its greenlet,
        gunicorn's request objects and its stack go; gunicorn closes nothing (the socket is detached)."""
        if type(respiter) is StreamBody and respiter.server is not None and self.outlets is not None:
            environ, start_response, started = respiter.server
            resp = start_response.__self__  # gunicorn's Response: its start_response is what the app got
            if self.outlets.adopt(respiter, resp, resp.sock):
                self.log.access(resp, resp.req, environ, datetime.now() - started)
                raise StopIteration("event stream handed to the writer")  # gunicorn's way out of the request
        return bool(super().is_already_handled(respiter))

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        gevent.spawn(drain, self.flask_app)  # not in the signal handler itself: drain takes locks


class JoblineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread: every open request holds a thread; kept as the fallback (JOBLINE_API_WORKER_CLASS)."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        threading.Thread(target=drain, args=(self.wsgi,), daemon=True).start()
