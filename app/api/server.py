"""`jobline api`: the Flask app under gunicorn (gevent by default: long polls and streams block nobody)."""

from __future__ import annotations

import argparse
import gc
from typing import Any

from gunicorn.app.base import BaseApplication

from app.settings import Settings

GC_FULL_EVERY = 100  # middle-generation collections between two full ones (Python's default: 10)
# gunicorn's worker classes with a drain on SIGTERM (app/api/serving.py), by JOBLINE_API_WORKER_CLASS.
WORKER_CLASSES = {
    "gevent": "app.api.serving.JoblineGeventWorker",
    "gthread": "app.api.serving.JoblineThreadWorker",
}


class JoblineServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from Settings, loading the app once per worker process."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app.api import create_app

        app = create_app(self.settings)
        tune_gc()
        return app


def tune_gc() -> None:
    """Keep garbage-collection pauses short in a process holding thousands of open streams.

    Measured under 2,000 streams (docs/benchmarks.md): full collections took 60-190 ms every few
    seconds, a stall for every stream of the process. Objects loaded at start are frozen (never
    scanned again), and full collections run 10 times less often.
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GC_FULL_EVERY)


def gunicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """Sizing (docs/realtime.md): a few processes (about one per core), each holding many connections.

    gevent (the default): every request is a greenlet, so an idle long poll or event stream costs a few
    kilobytes and no thread; `worker_connections` caps the open connections per process. gthread: every
    open request holds one of `threads` threads, so streams need as many threads as clients.
    """
    return {
        "bind": f"{host}:{port}",
        "workers": settings.api_workers,
        "worker_class": WORKER_CLASSES[settings.api_worker_class],
        "worker_connections": settings.api_connections,
        "threads": settings.api_threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level,
        "limit_request_line": 8190,
        "proc_name": "jobline-api",
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.redis_url:
        raise SystemExit("jobline api: REDIS_URL is not set; point it at your Redis (or use `jobline dev`)")
    JoblineServer(settings, gunicorn_options(settings, args.host, args.port)).run()
    return 0
