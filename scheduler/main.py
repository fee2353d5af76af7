"""`jobline scheduler`: parse flags, build the scheduler once, run its loop (or --check one is alive)."""

from __future__ import annotations

import argparse

from app.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="scheduler name (default: <host>-<pid>)")
    parser.add_argument("--check", action="store_true", help="exit 0 if a scheduler is alive")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from scheduler.loop import run_scheduler

    return run_scheduler(args, settings)
