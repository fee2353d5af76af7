"""Builds the store and services from settings: shared by the API, the worker and the scheduler."""

from __future__ import annotations

from redis import Redis

from app.services.auth import AuthService
from app.services.hub import EventHub
from app.services.jobs import JobService
from app.services.realtime import RealtimeService
from app.services.tokens import TokenService
from app.services.users import UserService
from app.services.workflows import WorkflowService
from app.settings import Settings
from app.store.connection import connect
from app.store.events import EventStore
from app.store.jobs import JobStore, Retention
from app.store.logs import LogStore
from app.store.ratelimit import RateCounters
from app.store.scripts import Scripts
from app.store.tokens import TokenStore
from app.store.users import UserStore
from app.store.workflows import WorkflowStore
from app.tasks import TaskRegistry

HUB_BLOCK_MS = 1000  # the stream reader's XREAD BLOCK: one idle round trip a second per API process


def retention_of(settings: Settings) -> Retention:
    return Retention(
        ttl_s=settings.result_ttl_s,
        keep={
            "completed": settings.keep_completed,
            "failed": settings.keep_failed,
            "canceled": settings.keep_canceled,
        },
        delays_s=settings.retry_delays_s,
    )


def build_workflow_service(redis: Redis, jobs: JobService) -> WorkflowService:
    return WorkflowService(WorkflowStore(redis, Scripts(redis)), jobs)


def build_job_service(settings: Settings, redis: Redis, tasks: TaskRegistry) -> JobService:
    return JobService(JobStore(redis, Scripts(redis), retention_of(settings)), tasks)


def build_auth_service(settings: Settings, redis: Redis) -> AuthService:
    """Users, API tokens and rate counters in `redis`, behind one AuthService."""
    users = UserService(settings, UserStore(redis))
    return AuthService(settings, users, TokenService(TokenStore(redis)), RateCounters(redis))


def build_realtime_service(
    settings: Settings, redis: Redis, jobs: JobService, reader: Redis | None = None
) -> RealtimeService:
    """Long polls, streams and logs of one API process, sharing one stream reader (its own connection)."""
    if reader is None:
        reader = connect(settings, blocking_s=HUB_BLOCK_MS / 1000 + 1, name="jobline-api-events")
    hub = EventHub(EventStore(reader), block_ms=HUB_BLOCK_MS)
    logs = LogStore(Scripts(redis))
    return RealtimeService(jobs, EventStore(redis), logs, hub, heartbeat_s=settings.sse_heartbeat_s)
