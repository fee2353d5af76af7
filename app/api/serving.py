"""gunicorn worker classes for the API: on SIGTERM, open long polls and event streams end at once.

Without this a stopping process would hold every open stream until gunicorn's graceful timeout; with it,
streams close within a second and their clients reconnect (with Last-Event-ID) to a live process.
"""

from __future__ import annotations

import threading
import warnings
from datetime import datetime
from typing import Any

import gevent
from gevent.monkey import MonkeyPatchWarning
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.gthread import ThreadWorker

from app.api.sse import StreamBody

# Longest a fan-out waits for ready requests between two groups of stream wake-ups.
PAUSE_MAX_S = 0.01


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


def yield_to_requests() -> None:
    """Let the requests that are ready run first (until the event loop is idle), for at most PAUSE_MAX_S.

    An event goes to every stream watching it; woken all at once, a hundred streams would run back to back
    ahead of a plain GET that arrived meanwhile (and ahead of that GET's Redis replies). Between groups of
    wake-ups the hub waits here, so ready requests go first and the fan-out takes the idle time.
    """
    with gevent.Timeout(PAUSE_MAX_S, False):
        gevent.idle()


def remember_server(app: Any) -> Any:
    """WSGI wrapper: an event stream's body learns the request's environ, start_response and start time,
    which the worker needs to take the stream over."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        started = datetime.now()
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

    wsgi: Any  # set by gunicorn's load_wsgi
    outlets: Any = None
    flask_app: Any = None  # self.wsgi wrapped by remember_server: drain needs the app itself

    def load_wsgi(self) -> None:
        from app.api.handoff import Outlets

        super().load_wsgi()
        app: Any = self.wsgi
        self.flask_app = app
        service = realtime_service(app)
        if service is None:
            return
        service.hub.pause = yield_to_requests
        self.outlets = Outlets(service.heartbeat_s, self.worker_connections, yield_to_requests)
        self.wsgi = remember_server(app)

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
