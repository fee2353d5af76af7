"""The worker runs only registered tasks from JSON data: planted jobs are refused and nothing executes."""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import pytest
from rq import Queue

from app import keys

pytestmark = pytest.mark.integration


class Canary:
    """Unpickling this runs `touch <path>`: the test fails if the file ever appears."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def plant(api, real_redis, data: bytes) -> str:
    """Submit a harmless job (no worker runs yet), then overwrite its data as an attacker in Redis would."""
    job_id = api.submit("demo.echo", params={"harmless": True}, maxRetries=3)["id"]
    real_redis.hset(keys.job(job_id), "data", data)
    return job_id


def json_data(func: str, args: list, kwargs: dict) -> bytes:
    return zlib.compress(json.dumps([func, None, args, kwargs]).encode())


def test_planted_jobs_are_refused_and_nothing_runs(api, processes, real_redis, tmp_path):
    canary = tmp_path / "canary"
    rq_job = Queue("default", connection=real_redis).enqueue(os.system, f"touch {canary}")  # rq's pickle
    planted = {
        "pickle": plant(api, real_redis, zlib.compress(pickle.dumps(Canary(canary)))),
        "raw pickle": plant(api, real_redis, pickle.dumps(Canary(canary))),
        "unregistered": plant(api, real_redis, json_data("os.system", [], {"command": f"touch {canary}"})),
        "positional": plant(api, real_redis, json_data("demo.echo", [f"touch {canary}"], {})),
    }
    processes.worker("--name", "w-guard")
    for kind, job_id in planted.items():
        job = api.wait(job_id, "failed")
        assert job["error"].startswith("Refused: "), (kind, job["error"])
        assert job["retryCount"] == 0, kind  # refused jobs are not retried
    assert "not registered" in api.get(planted["unregistered"])["error"]
    assert "not JSON" in api.get(planted["pickle"])["error"]
    marker = api.submit("demo.echo", params={"after": "planted"})
    assert api.wait(marker["id"], "completed")["result"] == {"after": "planted"}
    assert not canary.exists()
    assert rq_job.get_status(refresh=True) in ("queued", "failed")
    assert "demo.echo" not in real_redis.hget(keys.job(planted["pickle"]), "data").decode("latin-1")
