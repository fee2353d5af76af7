"""Builds the store and services from settings: shared by the API, the worker and the scheduler."""

from __future__ import annotations

from redis import Redis

from app.services.auth import AuthService
from app.services.jobs import JobService
from app.services.tokens import TokenService
from app.services.users import UserService
from app.services.workflows import WorkflowService
from app.settings import Settings
from app.store.jobs import JobStore, Retention
from app.store.ratelimit import RateCounters
from app.store.scripts import Scripts
from app.store.tokens import TokenStore
from app.store.users import UserStore
from app.store.workflows import WorkflowStore
from app.tasks import TaskRegistry


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
