"""The `jobline` command: dev, api, worker, scheduler (each a thin entry point into the same services)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from app import __version__
from app.errors import ConfigError
from app.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.main import run

    return run(args, settings)


def _cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from scheduler.main import run

    return run(args, settings)


def _cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from app.api.server import run

    return run(args, settings)


def _cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from app.dev import run

    return run(args, settings)


def _cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from app.users_cli import run

    return run(args, settings)


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from app.status_cli import run

    return run(args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobline", description="Jobline: a Redis-backed job system.")
    parser.add_argument("--version", action="version", version=f"jobline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser("dev", help="run API, two workers and the scheduler (own Redis unless REDIS_URL)")
    dev.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    dev.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    dev.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    dev.set_defaults(func=_cmd_dev)

    api = sub.add_parser("api", help="serve the HTTP API with gunicorn")
    api.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    api.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    api.set_defaults(func=_cmd_api)

    from workers.main import add_arguments as worker_arguments

    worker = sub.add_parser("worker", help="run a worker process")
    worker_arguments(worker)
    worker.set_defaults(func=_cmd_worker)

    from scheduler.main import add_arguments as scheduler_arguments

    scheduler = sub.add_parser("scheduler", help="run a scheduler process (several may run)")
    scheduler_arguments(scheduler)
    scheduler.set_defaults(func=_cmd_scheduler)

    from app.users_cli import add_arguments as users_arguments

    users = sub.add_parser("users", help="manage users in Redis (works without the API running)")
    users_arguments(users)
    users.set_defaults(func=_cmd_users)

    from app.status_cli import add_arguments as status_arguments

    status = sub.add_parser(
        "status", help="queues, workers, schedulers and health, straight from Redis (exit 1 when degraded)"
    )
    status_arguments(status)
    status.set_defaults(func=_cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load()
    except ConfigError as e:
        print(f"jobline: configuration error: {e.message}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, settings)
    except ConfigError as e:
        print(f"jobline {args.command}: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
