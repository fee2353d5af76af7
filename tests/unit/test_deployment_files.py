"""Procfile, docker-compose.yml and Dockerfile: their structure, and every `jobline` command in them is real.

No Docker engine runs here, so these files are checked by parsing them: a typo in a command, a lost
AOF flag or a worker that cannot be scaled fails this test instead of a deployment.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import build_parser
from app.settings import settings_table

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TYPES = {"web": "api", "worker": "worker", "scheduler": "scheduler"}
JOBLINE_SERVICES = ("api", "worker", "scheduler")
SHELL_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def expand(command: str) -> str:
    """Replace `${VAR:-default}` by its default, as a shell would with VAR unset."""
    return SHELL_DEFAULT.sub(lambda m: m.group(2), command)


def parse_jobline(argv: list[str]) -> Any:
    """Parse a `jobline ...` argv with the real CLI parser; fail the test if it would not start."""
    assert argv and argv[0] == "jobline", f"not a jobline command: {argv}"
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as e:
        pytest.fail(f"`{shlex.join(argv)}` is not a valid jobline command (exit {e.code})")


def procfile() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        assert sep, f"Procfile line without `name: command`: {line!r}"
        assert name.strip() not in entries, f"process type {name!r} defined twice"
        entries[name.strip()] = command.strip()
    return entries


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service_command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def healthcheck_argv(service: dict[str, Any]) -> tuple[str, list[str]]:
    """('CMD' | 'CMD-SHELL', argv) of a service's healthcheck."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return "CMD-SHELL", shlex.split(test)
    kind, *rest = test
    return kind, shlex.split(rest[0]) if kind == "CMD-SHELL" else rest


# --- Procfile -----------------------------------------------------------------------------------


def test_procfile_has_web_worker_and_scheduler():
    assert set(procfile()) == set(PROCESS_TYPES)


@pytest.mark.parametrize("process_type", sorted(PROCESS_TYPES))
def test_procfile_commands_are_real_jobline_commands(process_type):
    argv = shlex.split(expand(procfile()[process_type]))

    args = parse_jobline(argv)

    assert args.command == PROCESS_TYPES[process_type]


def test_procfile_web_binds_all_interfaces_on_the_platform_port():
    args = parse_jobline(shlex.split(expand(procfile()["web"])))

    assert args.host == "0.0.0.0"
    assert "${PORT" in procfile()["web"]


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_has_redis_api_worker_and_scheduler(compose):
    assert set(compose["services"]) >= {"redis", *JOBLINE_SERVICES}


def test_compose_redis_keeps_an_aof_on_a_named_volume_and_never_evicts(compose):
    redis = compose["services"]["redis"]
    argv = service_command(redis)
    flags = dict(zip(argv[1::2], argv[2::2], strict=False))

    assert argv[0] == "redis-server"
    assert flags["--appendonly"] == "yes"
    assert flags["--maxmemory-policy"] == "noeviction"
    assert "--requirepass" in flags
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data"  # the official image's working directory, where the AOF is written
    assert volume in (compose.get("volumes") or {}), "Redis data must live on a named volume"


@pytest.mark.parametrize("name", ["redis", *JOBLINE_SERVICES])
def test_compose_every_service_has_a_healthcheck(compose, name):
    check = compose["services"][name].get("healthcheck")

    assert check and check.get("test"), f"service {name} has no healthcheck"
    assert not check.get("disable")


def test_compose_redis_healthcheck_needs_a_pong(compose):
    kind, argv = healthcheck_argv(compose["services"]["redis"])

    assert argv[:2] == ["redis-cli", "ping"]
    assert kind == "CMD-SHELL" and "PONG" in argv  # redis-cli exits 0 on NOAUTH or LOADING


def test_compose_api_healthcheck_asks_readyz_on_the_port_it_serves(compose):
    api = compose["services"]["api"]
    args = parse_jobline(service_command(api))
    kind, argv = healthcheck_argv(api)

    assert kind == "CMD" and argv[0] == "python" and "urllib" in argv[-1]
    assert f"http://127.0.0.1:{args.port}/readyz" in argv[-1]
    published = [str(p) for p in api.get("ports", [])]
    assert any(p.endswith(f":{args.port}") for p in published), published


@pytest.mark.parametrize("name", ["worker", "scheduler"])
def test_compose_process_healthchecks_are_jobline_check_commands(compose, name):
    kind, argv = healthcheck_argv(compose["services"][name])

    args = parse_jobline(argv)

    assert kind == "CMD"
    assert args.command == name
    assert args.check is True


@pytest.mark.parametrize("name", JOBLINE_SERVICES)
def test_compose_service_commands_are_real_jobline_commands(compose, name):
    args = parse_jobline(service_command(compose["services"][name]))

    assert args.command == name


def test_compose_worker_can_be_scaled(compose):
    worker = compose["services"]["worker"]

    assert "container_name" not in worker  # a fixed name allows one container only
    assert not worker.get("ports"), "host port mappings clash with --scale worker=N"
    assert "hostname" not in worker  # `jobline worker --check` finds its worker by the container's host
    assert not worker.get("deploy", {}).get("replicas") or worker["deploy"]["replicas"] >= 1


def test_compose_jobline_services_run_in_production_against_the_password_protected_redis(compose):
    for name in JOBLINE_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["JOBLINE_ENV"] == "production"
        assert env["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
        assert env["REDIS_URL"].endswith("@redis:6379/0")
        assert "${JOBLINE_SECRET_KEY" in env["JOBLINE_SECRET_KEY"]
        assert "${JOBLINE_ADMIN_PASSWORD" in env["JOBLINE_ADMIN_PASSWORD"]
        assert compose["services"][name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_sets_only_real_settings(compose):
    known = {row[0] for row in settings_table()}
    for name in JOBLINE_SERVICES:
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name} sets variables Jobline does not read: {unknown}"


def test_compose_worker_stop_grace_covers_the_shutdown_grace(compose):
    default_grace = next(float(row[1]) for row in settings_table() if row[0] == "JOBLINE_SHUTDOWN_GRACE")
    grace = compose["services"]["worker"]["stop_grace_period"]

    assert grace.endswith("s") and float(grace[:-1]) > default_grace


def test_env_example_names_every_variable_compose_interpolates():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }

    assert used <= example, f"missing from .env.example: {used - example}"


# --- Dockerfile -----------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, with `\\` continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_dockerfile_copies_and_installs_every_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    steps = dockerfile()
    copied = {src.rstrip("/") for ins, args in steps if ins == "COPY" for src in args.split()[:-1]}

    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.1")
    assert {"pyproject.toml", pyproject["project"]["readme"], *packages} <= copied
    assert any(ins == "RUN" and "pip install ." in args for ins, args in steps)
    assert any(ins == "USER" and args not in ("root", "0") for ins, args in steps)


def test_dockerfile_default_command_is_a_real_jobline_command():
    cmd = [args for ins, args in dockerfile() if ins == "CMD"][-1]

    args = parse_jobline(json.loads(cmd))

    assert args.command == "api"


def test_dockerignore_keeps_what_the_image_needs():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert not ignored & {"app", "workers", "scheduler", "pyproject.toml", "README.md", "*"}
    assert {".git", ".venv", ".env"} <= ignored
