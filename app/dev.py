"""`jobline dev`: API, workers and scheduler on one machine, on a private Redis if none is set."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError

from app.errors import ConfigError
from app.redis_server import RedisServer
from app.settings import Settings
from app.store.connection import redact_url

STATE_DIR = Path(".jobline")
STOP_GRACE_S = 15.0


def say(message: str, end: str = "\n") -> None:
    print(message, end=end, flush=True)


class DevStack:
    """The processes of a dev run, started in order and stopped in reverse on Ctrl-C."""

    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.settings = settings
        self.redis: RedisServer | None = None
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.password = settings.admin_password or secrets.token_urlsafe(12)
        self.stopping = False

    def start_redis(self) -> str:
        if self.settings.redis_url:
            say(f"[1/4] Redis: using REDIS_URL {redact_url(self.settings.redis_url)} ... ", end="")
            try:
                Redis.from_url(self.settings.redis_url, socket_connect_timeout=2).ping()
            except RedisError as e:
                raise ConfigError(f"cannot reach REDIS_URL ({e}); start that Redis or unset REDIS_URL") from e
            say("ok")
            return self.settings.redis_url
        say("[1/4] Redis: starting a private redis-server ... ", end="")
        self.redis = RedisServer(directory=str(STATE_DIR / "redis")).start()
        say(f"ok (port {self.redis.port}, data in {STATE_DIR / 'redis'}, {self.redis.binary})")
        return self.redis.url

    def env(self, redis_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env["REDIS_URL"] = redis_url
        env["JOBLINE_ADMIN_PASSWORD"] = self.password
        env.setdefault("JOBLINE_SHUTDOWN_GRACE", "5")
        env.setdefault("JOBLINE_API_WORKERS", "1")
        return env

    def spawn(self, label: str, argv: list[str], env: dict[str, str]) -> None:
        log_path = STATE_DIR / "logs" / f"{label}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", *argv], env=env, stdout=log, stderr=log, start_new_session=True
        )
        self.procs.append((label, proc))

    def wait_api(self, url: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise ConfigError(
            f"the API did not become ready within {timeout_s:.0f} s; see {STATE_DIR}/logs/api.log"
        )

    def check_alive(self) -> None:
        for label, proc in self.procs:
            code = proc.poll()
            if code is not None and not self.stopping:
                raise ConfigError(f"{label} exited with code {code}; see {STATE_DIR}/logs/{label}.log")

    def stop(self) -> None:
        self.stopping = True
        say("\nStopping: ", end="")
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for label, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            say(f"{label} ", end="")
        if self.redis is not None:
            self.redis.stop()
            say("redis ", end="")
        say("- done.")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) != 0


def _banner(url: str, stack: DevStack, env_url: str) -> None:
    say("")
    say(f"Jobline is running: {url}")
    say(f"  admin login: admin / {stack.password}")
    say(f"  logs: {STATE_DIR}/logs/    stop: Ctrl-C")
    if stack.settings.redis_url:
        say("  status from a terminal: jobline status")
    else:  # the private Redis has no password: its URL can be shown
        say(f"  status from a terminal: REDIS_URL={env_url} .venv/bin/jobline status")
    say(
        "  try:  TOKEN=$(curl -s -X POST " + url + "/api/v1/auth/login -H 'Content-Type: application/json' \\"
    )
    say(
        f'          -d \'{{"login":"admin","password":"{stack.password}"}}\' | python3 -c \'import json,sys;'
        'print(json.load(sys.stdin)["token"])\')'
    )
    say(
        "        curl -s -X POST " + url + '/api/v1/jobs -H "Authorization: Bearer $TOKEN" '
        '-H \'Content-Type: application/json\' -d \'{"task":"demo.progress","params":{"steps":5}}\''
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not _port_free(args.host, args.port):
        raise ConfigError(f"port {args.port} is already in use; pass --port with a free one")
    stack = DevStack(args, settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then keeps it ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = stack.start_redis()
        env = stack.env(redis_url)
        url = f"http://{args.host}:{args.port}"
        say(f"[2/4] API: starting gunicorn on {url} ... ", end="")
        stack.spawn("api", ["api", "--host", args.host, "--port", str(args.port)], env)
        stack.wait_api(url)
        say("ok")
        say(f"[3/4] Workers: starting {args.workers} ... ", end="")
        for i in range(1, args.workers + 1):
            stack.spawn(f"worker-{i}", ["worker", "--name", f"dev-{socket.gethostname()}-{i}"], env)
        say("ok")
        say("[4/4] Scheduler: starting ... ", end="")
        stack.spawn("scheduler", ["scheduler"], env)
        say("ok")
        _banner(url, stack, redis_url)
        while True:
            stack.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        stack.stop()
        return 0
    except ConfigError as e:
        say(f"\njobline dev: {e.message}")
        stack.stop()
        return 1
