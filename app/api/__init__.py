"""The Flask app factory: settings and Redis injectable, per-app state in app.extensions['jobline']."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app.api import auth as auth_hook
from app.api import security
from app.api.context import Services
from app.api.dialects import compileo, nick, open_archiver
from app.api.errors import register_error_handlers
from app.api.json import OrjsonProvider
from app.api.views import auth, health, jobs, openapi, queues, realtime, tokens, users, workers, workflows
from app.services.queues import QueueService, WorkerService
from app.services.stats import StatsService
from app.services.wiring import (
    build_auth_service,
    build_job_service,
    build_realtime_service,
    build_workflow_service,
)
from app.settings import Settings
from app.store.connection import connect
from app.store.queues import QueueStore
from app.tasks import load_task_modules

log = logging.getLogger(__name__)
BLUEPRINTS = (
    health.bp,
    auth.bp,
    jobs.bp,
    workflows.bp,
    queues.bp,
    workers.bp,
    nick.bp,
    compileo.bp,
    open_archiver.bp,
    users.bp,
    tokens.bp,
    openapi.bp,
    realtime.bp,
)


def create_app(settings: Settings | None = None, redis: Any = None) -> Flask:
    """Build the API. Tests pass settings and a (fake) Redis; production reads the environment."""
    settings = settings or Settings.load()
    reader = redis  # tests inject one client for everything; a server gives the stream reader its own
    redis = (
        redis if redis is not None else connect(settings, name="jobline-api", pool_size=settings.redis_pool)
    )
    tasks = load_task_modules(settings.task_modules)
    queues = QueueStore(redis)
    jobs = build_job_service(settings, redis, tasks)
    auth_service = build_auth_service(settings, redis)
    app = Flask("jobline", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = OrjsonProvider(app)
    app.extensions["jobline"] = Services(
        settings=settings,
        redis=redis,
        jobs=jobs,
        auth=auth_service,
        extra={
            "queues": queues,
            "stats": StatsService(settings, redis, queues),
            "tasks": tasks,
            "workflows": build_workflow_service(redis, jobs),
            "queue_service": QueueService(settings, queues, jobs),
            "workers": WorkerService(queues),
        },
    )
    svc = app.extensions["jobline"]
    svc.extra["realtime"] = build_realtime_service(settings, redis, svc.jobs, reader)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    register_error_handlers(app)
    security.install(app, settings)  # before the auth hook: a CORS preflight carries no token
    auth_hook.install(app)
    auth_hook.bootstrap_admin(app)
    if not settings.admin_password:
        log.warning("JOBLINE_ADMIN_PASSWORD is not set: nobody can log in as admin")
    return app
