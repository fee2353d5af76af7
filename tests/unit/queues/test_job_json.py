"""The hand-written job dump used by listings is exactly JobSchema's dump, for jobs in every shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.api.schemas.jobs import JobSchema, job_json
from app.models import JobSpec, Trigger
from tests.conftest import make_settings
from tests.unit.queues.conftest import Driver, submit


def test_job_json_equals_the_schema_dump(app, client, auth, fake_redis):
    settings = make_settings(retry_delays_s=(0.0,))
    ids = [submit(client, auth, "shapes", maxRetries=1, params={}) for _ in range(3)]
    ids.append(submit(client, auth, "shapes", task="demo.echo", params={"x": [1, {"y": None}]}))
    worker = Driver(fake_redis, settings, ("shapes",))
    worker.run("error", 2)  # a retry with history, then failed with trace
    worker.run("ok", 1)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    ids.append(submit(client, auth, "shapes", scheduledAt=later))
    client.post(f"/api/v1/jobs/{ids[-1]}/cancel", headers=auth)
    ids.append(submit(client, auth, "shapes", title="T", description="D", priority=-2))
    store = app.extensions["jobline"].jobs.store
    spec = JobSpec(
        task="demo.noop",
        queue="shapes",
        actor="wf",
        trigger=Trigger.AUTOMATIC,
        workflow_id="wf1",
        workflow_name="nightly",
        input_data=[{"json": {"a": 1}}],
    )
    store.submit("wfjob", spec, datetime.now(UTC).timestamp() + 60)
    ids.append("wfjob")
    worker.start()
    schema = JobSchema()
    shapes = set()
    for job in store.find_many(ids):
        assert job is not None
        expected = schema.dump(job)
        got = job_json(job)
        assert got == expected
        assert list(got) == list(expected)
        shapes.add((job.status, bool(job.history), job.run_at is not None, job.input_data is not None))
    assert len(shapes) >= 5
