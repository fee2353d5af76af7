"""gunicorn worker classes for the API: on SIGTERM, open long polls and event streams end at once.

Without this a stopping process would hold every open stream until gunicorn's graceful timeout; with it,
streams close within a second and their clients reconnect (with Last-Event-ID) to a live process.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import gevent
from gevent.monkey import MonkeyPatchWarning
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.gthread import ThreadWorker

# Longest a fan-out waits for ready requests between two groups of stream wake-ups.
PAUSE_MAX_S = 0.01


def event_hub(app: Any) -> Any:
    """The event hub of the app a worker serves, or None (no real-time service)."""
    services = getattr(app, "extensions", {}).get("jobline")
    if services is not None and "realtime" in services.extra:
        return services.extra["realtime"].hub
    return None


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


class JoblineGeventWorker(GeventWorker):  # type: ignore[misc]
    """gevent: every request a greenlet, so thousands of idle streams cost little memory and no thread."""

    def patch(self) -> None:
        # The CLI imported redis (hence ssl) before this worker existed; no SSL context was made by then,
        # so patching later is safe here and the warning would only alarm operators.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        hub = event_hub(self.wsgi)
        if hub is not None:
            hub.pause = yield_to_requests

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        gevent.spawn(drain, self.wsgi)  # not in the signal handler itself: drain takes locks


class JoblineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread: every open request holds a thread; kept as the fallback (JOBLINE_API_WORKER_CLASS)."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        threading.Thread(target=drain, args=(self.wsgi,), daemon=True).start()
