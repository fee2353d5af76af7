"""The one table of who may call what: every endpoint's required role, checked before any view runs.

A route missing from this table is refused (and a test walks every route to keep the table complete).
"""

from __future__ import annotations

PUBLIC = "public"

REQUIRED_ROLE: dict[str, str] = {
    # operations and auth
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "health.metrics": PUBLIC,
    "auth.login": PUBLIC,
    # jobs
    "jobs.list_jobs": "viewer",
    "jobs.get_job": "viewer",
    "jobs.job_stats": "viewer",
    "jobs.submit_job": "operator",
    "jobs.cancel_job": "operator",
    "jobs.retry_job": "operator",
    "jobs.delete_job": "admin",
    # queues and workers
    "queues.list_queues": "viewer",
    "queues.get_queue": "viewer",
    "queues.pause_queue": "admin",
    "queues.resume_queue": "admin",
    "queues.purge_queue": "admin",
    "queues.retry_failed": "operator",
    "workers.list_workers": "viewer",
}
