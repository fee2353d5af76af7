"""Firing workflow runs through fire.lua on fakeredis: exactly once, on the grid, failure tracking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import fakeredis
import pytest

from app import keys
from app.models import JobFilter, Trigger, WorkflowSpec, WorkflowStatus
from app.services.firing import Firing
from app.services.wiring import build_job_service, build_workflow_service, retention_of
from app.store.scripts import Scripts
from app.store.workers import Outcome, WorkerStore
from app.store.workflows import WorkflowStore
from app.tasks import load_task_modules
from tests.conftest import make_settings

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
T0_MS = round(T0.timestamp() * 1000)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at_ms(self, value: int) -> None:
        self.now = datetime.fromtimestamp(value / 1000, UTC)


@pytest.fixture
def world() -> dict[str, Any]:
    redis = fakeredis.FakeRedis()
    settings = make_settings()
    clock = Clock()
    jobs = build_job_service(settings, redis, load_task_modules(()))
    workflows = build_workflow_service(redis, jobs)
    workflows.clock = clock
    return {
        "redis": redis,
        "jobs": jobs,
        "workflows": workflows,
        "clock": clock,
        "settings": settings,
        "firing": Firing(WorkflowStore(redis, Scripts(redis))),
    }


def automatic_jobs(world: dict[str, Any], workflow_id: str) -> list[Any]:
    page = world["jobs"].list(JobFilter(workflow_id=workflow_id, trigger=Trigger.AUTOMATIC), 1000)
    return sorted(page.jobs, key=lambda j: j.scheduled_at)


def test_a_due_run_becomes_one_automatic_job_on_the_grid(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.noop", interval_s=2), "alice")
    assert wf.next_run_at == datetime.fromtimestamp((T0_MS + 2000) / 1000, UTC)
    assert world["firing"].fire_due(T0_MS + 1999) == 0
    assert world["firing"].fire_due(T0_MS + 2003) == 1
    assert world["firing"].fire_due(T0_MS + 2003) == 0  # nothing due twice
    [job] = automatic_jobs(world, wf.id)
    assert job.scheduled_at == datetime.fromtimestamp((T0_MS + 2000) / 1000, UTC)
    assert (job.trigger, job.workflow_id, job.workflow_name, job.actor) == (
        Trigger.AUTOMATIC,
        wf.id,
        "tick",
        "scheduler",
    )
    after = world["workflows"].get(wf.id)
    assert after.run_count == 1 and after.last_job_id == job.id
    assert after.next_run_at == datetime.fromtimestamp((T0_MS + 4000) / 1000, UTC)


def test_two_schedulers_racing_for_the_same_run_make_one_job(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.noop", interval_s=1), "alice")
    other = Firing(WorkflowStore(world["redis"], Scripts(world["redis"])))
    due = world["firing"].store.due(T0_MS + 1000, 10)
    runs_a = world["firing"].plan(due, T0_MS + 1000)
    runs_b = other.plan(due, T0_MS + 1000)
    assert world["firing"].store.fire(runs_a) == ["fired"]
    assert other.store.fire(runs_b) == ["moved"]
    assert len(automatic_jobs(world, wf.id)) == 1


def test_a_replanned_slot_is_refused_by_its_claim(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.noop", interval_s=1), "alice")
    world["firing"].fire_due(T0_MS + 1000)
    world["redis"].zadd(keys.WORKFLOW_DUE, {wf.id: T0_MS + 1000})  # as if replanned onto a fired slot
    assert world["firing"].fire_due(T0_MS + 1000) == 0
    assert len(automatic_jobs(world, wf.id)) == 1


def test_missed_runs_give_one_catch_up_job_then_the_grid(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.noop", interval_s=1), "alice")
    assert world["firing"].fire_due(T0_MS + 10_400) == 1
    [job] = automatic_jobs(world, wf.id)
    assert round(job.scheduled_at.timestamp() * 1000) == T0_MS + 10_000
    assert world["workflows"].get(wf.id).next_run_at == datetime.fromtimestamp((T0_MS + 11_000) / 1000, UTC)


def test_paused_and_terminated_workflows_do_not_fire(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.noop", interval_s=1), "alice")
    world["workflows"].pause(wf.id)
    assert world["firing"].fire_due(T0_MS + 5000) == 0
    world["clock"].at_ms(T0_MS + 5500)
    resumed = world["workflows"].resume(wf.id)
    assert resumed.next_run_at == datetime.fromtimestamp((T0_MS + 6000) / 1000, UTC)  # same grid
    world["workflows"].terminate(wf.id)
    assert world["firing"].fire_due(T0_MS + 9000) == 0
    assert world["workflows"].get(wf.id).status is WorkflowStatus.TERMINATED


def test_a_changed_definition_fires_with_the_new_version(world):
    wf = world["workflows"].create(WorkflowSpec(name="tick", task="demo.echo", interval_s=1), "alice")
    due = world["firing"].store.due(T0_MS + 1000, 10)
    stale = world["firing"].plan(due, T0_MS + 1000)
    world["workflows"].update(wf.id, {"params": {"v": 2}})
    assert world["firing"].store.fire(stale) == ["stale"]
    assert world["firing"].fire_due(T0_MS + 1000) == 1
    [job] = automatic_jobs(world, wf.id)
    assert job.params == {"v": 2}


def _run_and_fail(world: dict[str, Any]) -> None:
    store = WorkerStore(
        world["redis"], Scripts(world["redis"]), "w1", ("default",), retention_of(world["settings"]), 30.0, 30
    )
    claim = store.claim("e1", None, "take")
    assert claim.job is not None
    store.claim("e2", Outcome(claim.job, "error", 0.01, error="boom"), "none")


def test_consecutive_failures_pause_the_workflow(world):
    spec = WorkflowSpec(
        name="flaky", task="demo.fail", interval_s=1, max_retries=0, max_consecutive_failures=2
    )
    wf = world["workflows"].create(spec, "alice")
    world["firing"].fire_due(T0_MS + 1000)
    _run_and_fail(world)
    assert world["workflows"].get(wf.id).consecutive_failures == 1
    world["firing"].fire_due(T0_MS + 2000)
    _run_and_fail(world)
    after = world["workflows"].get(wf.id)
    assert after.status is WorkflowStatus.PAUSED
    assert "2 consecutive failed runs" in (after.paused_reason or "")
    assert world["redis"].zscore(keys.WORKFLOW_DUE, wf.id) is None


def _worker(world: dict[str, Any]) -> WorkerStore:
    settings = world["settings"]
    return WorkerStore(
        world["redis"], Scripts(world["redis"]), "w1", ("default",), retention_of(settings), 30.0, 30
    )


@pytest.mark.parametrize("overlap", ["allow", "skip"])
def test_overlap_skip_makes_no_run_while_the_previous_one_has_not_ended(world, overlap):
    wf = world["workflows"].create(
        WorkflowSpec(name="slow", task="demo.noop", interval_s=1, overlap=overlap, max_retries=0), "alice"
    )
    worker = _worker(world)
    assert world["firing"].fire_due(T0_MS + 1000) == 1
    running = worker.claim("e1", None, "take").job  # run 1 is running ...
    assert running is not None
    fired = world["firing"].fire_due(T0_MS + 2000)  # ... when run 2 is due
    if overlap == "allow":
        assert fired == 1 and len(automatic_jobs(world, wf.id)) == 2
        return
    assert fired == 0 and len(automatic_jobs(world, wf.id)) == 1
    skipped = world["workflows"].get(wf.id)
    assert skipped.skipped_runs == 1 and skipped.run_count == 1
    assert skipped.next_run_at == datetime.fromtimestamp((T0_MS + 3000) / 1000, UTC)  # still on the grid
    worker.claim("e2", Outcome(running, "ok", 0.01, result="null"), "none")
    assert world["firing"].fire_due(T0_MS + 3000) == 1  # the previous run ended: back to one per slot
    jobs = automatic_jobs(world, wf.id)
    assert [j.scheduled_at for j in jobs] == [
        datetime.fromtimestamp((T0_MS + t) / 1000, UTC) for t in (1000, 3000)
    ]
    assert world["workflows"].get(wf.id).skipped_runs == 1


def test_overlap_is_validated_shown_and_patchable(client, auth):
    bad = client.post(
        "/api/v1/workflows", json={"name": "x", "task": "demo.noop", "overlap": "queue"}, headers=auth
    )
    assert bad.status_code == 400 and "overlap" in bad.get_json()["details"]
    made = client.post(
        "/api/v1/workflows", json={"name": "x", "task": "demo.noop", "interval": 60}, headers=auth
    )
    assert made.get_json()["overlap"] == "allow" and made.get_json()["skippedRuns"] == 0
    patched = client.patch(
        f"/api/v1/workflows/{made.get_json()['id']}", json={"overlap": "skip"}, headers=auth
    )
    assert patched.status_code == 200 and patched.get_json()["overlap"] == "skip"
