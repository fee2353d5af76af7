"""Anyone who can write to Redis must not be able to run code through a worker.

Jobs planted straight into Redis (a pickle whose unpickling would create a canary file, and jobs that
name `os.system`) must end `failed` with a clear refusal, on a real worker, and the canary must not
exist. The worker stays healthy and runs the next real job.
"""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from app import keys
from app.store.codec import encode_data
from tests.conftest import poll_until

pytestmark = pytest.mark.integration
QUEUE = "sec-planted"


class Canary:
    """Unpickling this runs `touch <path>` (what an attacker would plant in rq's pickle format)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.path}",))


def _submit(client, headers) -> str:
    reply = client.post("/api/v1/jobs", json={"task": "demo.echo", "queue": QUEUE}, headers=headers)
    assert reply.status_code == 201
    return reply.get_json()["id"]


def _failed(client, headers, job_id):
    job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    return job if job["status"] in ("failed", "completed") else None


def test_the_canary_payload_is_live(tmp_path):
    """Control: the planted bytes really do run a command when unpickled (so the test below can fail)."""
    control = tmp_path / "control-canary"
    pickle.loads(zlib.decompress(zlib.compress(pickle.dumps(Canary(control)))))
    assert control.exists()


def test_planted_pickle_and_os_system_jobs_are_refused_not_run(
    real_client, real_auth, real_redis, processes, tmp_path
):
    canary = tmp_path / "canary"
    payloads = {
        "rq pickle (zlib)": zlib.compress(pickle.dumps(Canary(canary))),
        "raw pickle": pickle.dumps(Canary(canary), protocol=2),
        "os.system by name": encode_data("os.system", {"command": f"touch {canary}"}),
        "os.system with args": zlib.compress(
            json.dumps(["os.system", None, [f"touch {canary}"], {}]).encode()
        ),
        "builtins.eval": encode_data("builtins.eval", {"source": f"open('{canary}', 'w')"}),
    }
    planted = {}
    for label, data in payloads.items():
        job_id = _submit(real_client, real_auth)
        real_redis.hset(keys.job(job_id), "data", data)  # what a Redis-level attacker can do
        planted[label] = job_id

    processes.worker("--queues", QUEUE)
    for label, job_id in planted.items():
        job = poll_until(lambda j=job_id: _failed(real_client, real_auth, j), timeout_s=30)
        assert job["status"] == "failed", (label, job)
        assert job["error"].startswith("Refused"), (label, job["error"])
        assert job["result"] is None
    assert "not JSON" in _failed(real_client, real_auth, planted["rq pickle (zlib)"])["error"]
    assert (
        "'os.system' is not registered"
        in _failed(real_client, real_auth, planted["os.system by name"])["error"]
    )
    assert not canary.exists()

    # the worker is unharmed and still runs real jobs
    good = real_client.post(
        "/api/v1/jobs", json={"task": "demo.echo", "queue": QUEUE, "params": {"ok": 1}}, headers=real_auth
    ).get_json()["id"]
    done = poll_until(lambda: _failed(real_client, real_auth, good), timeout_s=30)
    assert done["status"] == "completed" and done["result"] == {"ok": 1}
    assert not canary.exists()
    logs = processes.logs()
    assert "refused" in logs and "Traceback" not in logs
