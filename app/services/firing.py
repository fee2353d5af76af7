"""Fires due workflow runs: plans each run's slot and next time on its grid, then claims them atomically."""

from __future__ import annotations

import logging
import uuid

from app.services.schedule import Trigger as Grid
from app.store.workflows import Run, WorkflowStore

log = logging.getLogger(__name__)
BATCH = 500
MAX_ROUNDS = 20


def grid_from_fields(t: dict[str, str]) -> Grid | None:
    if t.get("interval_ms"):
        return Grid(interval_ms=int(t["interval_ms"]), anchor_ms=int(t.get("anchor_ms") or 0))
    if t.get("cron"):
        return Grid(cron=t["cron"], timezone=t.get("timezone") or "UTC")
    return None


class Firing:
    """One scheduler's firing step; several schedulers may run it at once (each run fires once)."""

    def __init__(self, store: WorkflowStore) -> None:
        self.store = store

    def plan(self, due: list[tuple[str, int]], now_ms: int) -> list[Run]:
        triggers = self.store.triggers([wf for wf, _ in due])
        runs = []
        for workflow_id, planned_ms in due:
            t = triggers[workflow_id]
            grid = grid_from_fields(t)
            if grid is None or not t.get("version"):
                runs.append(Run(workflow_id, planned_ms, planned_ms, planned_ms, -1, ""))  # fire.lua drops it
                continue
            slot, next_ms = grid.slot_for(planned_ms, now_ms)
            runs.append(Run(workflow_id, planned_ms, slot, next_ms, int(t["version"]), str(uuid.uuid4())))
        return runs

    def fire_due(self, now_ms: int) -> int:
        """Fire every run due by `now_ms`; returns how many this scheduler fired."""
        fired = 0
        for _ in range(MAX_ROUNDS):
            due = self.store.due(now_ms, BATCH)
            if not due:
                break
            runs = self.plan(due, now_ms)
            outcomes = self.store.fire(runs)
            for run, outcome in zip(runs, outcomes, strict=True):
                if outcome == "fired":
                    fired += 1
                    log.info(
                        "workflow %s: run for %d enqueued as job %s (%d ms late)",
                        run.workflow_id,
                        run.slot_ms,
                        run.job_id,
                        now_ms - run.slot_ms,
                    )
                elif outcome == "skipped":
                    log.info(
                        "workflow %s: run for %d skipped, its previous run has not ended (overlap: skip)",
                        run.workflow_id,
                        run.slot_ms,
                    )
                elif outcome == "duplicate":
                    log.warning("workflow %s: run for %d was already enqueued", run.workflow_id, run.slot_ms)
            if len(due) < BATCH and "stale" not in outcomes:
                break
        return fired
