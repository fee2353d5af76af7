"""The queues domain: list queues with counts, one queue's jobs, pause/resume, purge and retry-failed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.errors import InvalidError, NotFoundError
from app.models import JobFilter, JobPage, JobStatus, QueueInfo, WorkerInfo
from app.services.jobs import JobService
from app.settings import QUEUE_NAME_RE, Settings
from app.store.queues import STATUSES, QueueStore
from app.store.roster import live_workers

log = logging.getLogger(__name__)
PURGEABLE = frozenset(
    {JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
)


def _counts(raw: dict[str, int]) -> dict[str, int]:
    return {s: raw[s] for s in STATUSES}


class QueueService:
    """Rules about whole queues; counts and pages come straight from rq's lists and registries."""

    def __init__(self, settings: Settings, store: QueueStore, jobs: JobService) -> None:
        self.settings = settings
        self.store = store
        self.jobs = jobs

    def list(self, visible: Callable[[str], bool] = lambda q: True) -> list[QueueInfo]:
        """Every queue that holds or held jobs, plus the configured ones (two Redis round trips)."""
        snap = self.store.snapshot(self.settings.queues)
        return [
            QueueInfo(
                name=q,
                paused=q in snap.paused,
                workers=sum(1 for w in snap.workers if q in w.queues),
                counts=_counts(snap.counts[q]),
                retrying=snap.counts[q]["retrying"],
            )
            for q in snap.names
            if visible(q)
        ]

    def get(
        self, name: str, status: JobStatus | None, limit: int, page: int | None, cursor: str | None
    ) -> tuple[QueueInfo, JobPage]:
        """A queue's counts and one page of its jobs (of one status, or all in listing order), read in one
        round trip: the counts ride along with the page script."""
        if not QUEUE_NAME_RE.match(name):
            raise NotFoundError("Queue not found")
        f = JobFilter(status=status, queue=name)
        jobs, values = self.jobs.list_and_read(f, limit, page, cursor, self.store.state_reads(name))
        known, paused, counts = self.store.read_state(values)
        if not known and name not in self.settings.queues:
            raise NotFoundError("Queue not found")
        return QueueInfo(name, paused, 0, _counts(counts), counts["retrying"]), jobs

    def info(self, name: str) -> QueueInfo:
        """Counts and pause flag of one queue (no worker count: that needs the roster); 404 if unknown."""
        if not QUEUE_NAME_RE.match(name):
            raise NotFoundError("Queue not found")
        exists, paused, counts = self.store.queue_state(name, self.settings.queues)
        if not exists:
            raise NotFoundError("Queue not found")
        return QueueInfo(name, paused, 0, _counts(counts), counts["retrying"])

    def with_workers(self, info: QueueInfo) -> QueueInfo:
        """The same queue with the number of live workers serving it."""
        served = sum(1 for w in live_workers(self.store.redis) if info.name in w.queues)
        return QueueInfo(info.name, info.paused, served, info.counts, info.retrying)

    def set_paused(self, name: str, paused: bool) -> QueueInfo:
        """Pause (workers take nothing from it; submits still work) or resume a queue; kept in Redis."""
        self.info(name)
        self.store.set_paused(name, paused)
        log.info("queue %s %s", name, "paused" if paused else "resumed")
        return self.with_workers(self.info(name))

    def purge(self, name: str, status: JobStatus) -> int:
        """Delete every job of one status from a queue, entirely; running jobs must be canceled first."""
        if status not in PURGEABLE:
            raise InvalidError(
                "Invalid request", {"status": ["Running jobs cannot be purged; cancel them first."]}
            )
        self.info(name)
        deleted = self.store.bulk("purge", name, status.value)
        log.info("queue %s: purged %d %s job(s)", name, deleted, status.value)
        return deleted

    def retry_failed(self, name: str) -> int:
        """Send every failed job of a queue back to pending (same ids, errors kept in their history)."""
        self.info(name)
        retried = self.store.bulk("retry", name, JobStatus.FAILED.value)
        log.info("queue %s: %d failed job(s) sent back to pending", name, retried)
        return retried


class WorkerService:
    """Live workers, read from rq's worker hashes (a killed worker's hash expires after its lease)."""

    def __init__(self, store: QueueStore) -> None:
        self.store = store

    def list(self) -> list[WorkerInfo]:
        return live_workers(self.store.redis)
