"""`jobline status` against a real Redis with real workers: tables, JSON, and exit codes for probes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, poll_until, settings_env

pytestmark = pytest.mark.integration


def status(settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "status", *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_status_shows_queues_workers_and_health_with_exit_codes(api, processes, real_settings):
    job = api.submit("demo.noop", queue="mail")  # pending, and no worker serves "mail" yet
    degraded = status(real_settings, "--json")
    assert degraded.returncode == 1, degraded.stderr
    report = json.loads(degraded.stdout)
    assert report["health"]["status"] == "degraded"
    assert "queue 'mail' has pending jobs and no worker" in report["health"]["problems"]
    assert next(q for q in report["queues"] if q["name"] == "mail")["pending"] == 1
    assert report["redisAdvice"] == []  # the private server is configured as recommended

    processes.worker("--name", "w-status", "--queues", "mail")
    api.wait(job["id"], "completed")
    healthy = poll_until(lambda: (r := status(real_settings)).returncode == 0 and r, timeout_s=15)
    text = healthy.stdout
    assert text.startswith(f"Jobline at {real_settings.redis_url}: HEALTHY")
    assert "w-status" in text and "idle" in text
    mail = next(line for line in text.splitlines() if line.startswith("mail "))
    assert mail.split()[1:8] == ["0", "0", "0", "1", "0", "0", "0"]  # pending..canceled, retrying


def test_status_of_an_unreachable_redis_exits_2_and_says_what_to_do(real_settings):
    gone = dataclasses.replace(real_settings, redis_url="redis://127.0.0.1:1/0")
    result = status(gone)
    assert result.returncode == 2
    assert "Redis is unreachable: check that Redis runs and REDIS_URL points at it" in result.stderr
    assert json.loads(status(gone, "--json").stdout)["health"]["status"] == "unhealthy"
