"""Tasks: the @task decorator, progress reporting, and the registry workers run from."""

from app.tasks.context import JobContext, current_job, report_progress
from app.tasks.registry import REGISTRY, Task, TaskRegistry, load_task_modules, task

__all__ = [
    "REGISTRY",
    "JobContext",
    "Task",
    "TaskRegistry",
    "current_job",
    "load_task_modules",
    "report_progress",
    "task",
]
