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
    # workflows and executions
    "workflows.list_workflows": "viewer",
    "workflows.get_workflow": "viewer",
    "workflows.workflow_jobs": "viewer",
    "workflows.get_execution": "viewer",
    "workflows.run_workflow": "operator",
    "workflows.execute_workflow_async": "operator",
    "workflows.create_workflow": "admin",
    "workflows.update_workflow": "admin",
    "workflows.delete_workflow": "admin",
    "workflows.pause_workflow": "admin",
    "workflows.resume_workflow": "admin",
    # seed dialects (same roles as the native endpoints they map to)
    "nick.nick_login": PUBLIC,
    "nick.nick_list_jobs": "viewer",
    "nick.nick_get_job": "viewer",
    "nick.nick_abort_job": "operator",
    "nick.nick_retry_job": "operator",
    "nick.nick_delete_job": "admin",
    "compileo.compileo_status": "viewer",
    "compileo.compileo_poll": "viewer",
    "compileo.compileo_stream": "viewer",
    "compileo.compileo_queue_stats": "viewer",
    "compileo.compileo_cancel": "operator",
    "compileo.compileo_restart": "operator",
    "open_archiver.oa_list_queues": "admin",
    "open_archiver.oa_get_queue": "admin",
    # queues and workers
    "queues.list_queues": "viewer",
    "queues.get_queue": "viewer",
    "queues.pause_queue": "admin",
    "queues.resume_queue": "admin",
    "queues.purge_queue": "admin",
    "queues.retry_failed": "operator",
    "workers.list_workers": "viewer",
    # auth, users and API tokens
    "auth.logout": "viewer",
    "auth.me": "viewer",
    "openapi.spec": PUBLIC,
    "users.list_users": "admin",
    "users.create_user": "admin",
    "users.get_user": "admin",
    "users.update_user": "admin",
    "users.delete_user": "admin",
    "tokens.list_tokens": "admin",
    "tokens.create_token": "admin",
    "tokens.get_token": "admin",
    "tokens.revoke_token": "admin",
    # real time
    "realtime.poll_job": "viewer",
    "realtime.stream_job": "viewer",
    "realtime.stream_events": "viewer",
    "realtime.job_logs": "viewer",
}
