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


def drain(app: Any) -> None:
    """End the real-time requests of the app a worker serves (its event hub tells every subscriber)."""
    extensions = getattr(app, "extensions", {})
    services = extensions.get("jobline")
    if services is not None and "realtime" in services.extra:
        services.extra["realtime"].hub.drain()


class JoblineGeventWorker(GeventWorker):  # type: ignore[misc]
    """gevent: every request a greenlet, so thousands of idle streams cost little memory and no thread."""

    def patch(self) -> None:
        # The CLI imported redis (hence ssl) before this worker existed; no SSL context was made by then,
        # so patching later is safe here and the warning would only alarm operators.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        gevent.spawn(drain, self.wsgi)  # not in the signal handler itself: drain takes locks


class JoblineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread: every open request holds a thread; kept as the fallback (JOBLINE_API_WORKER_CLASS)."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        threading.Thread(target=drain, args=(self.wsgi,), daemon=True).start()
