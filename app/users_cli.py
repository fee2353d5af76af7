"""`jobline users add|list|disable|enable|passwd|delete`: manage users straight in Redis (no API needed)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from app.errors import InvalidError, JoblineError
from app.models import ROLES, User
from app.services.users import UserService
from app.settings import Settings
from app.store.connection import connect
from app.store.users import UserStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create a user (asks for the password, or reads it from stdin)")
    add.add_argument("login")
    add.add_argument("--role", choices=ROLES, default="viewer", help="viewer (default), operator or admin")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    listing = sub.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, text in (
        ("disable", "disable a user: their login tokens stop working at once"),
        ("enable", "enable a disabled user (they log in again)"),
        ("delete", "delete a user"),
    ):
        sub.add_parser(name, help=text).add_argument("login")
    passwd = sub.add_parser("passwd", help="set a user's password (their login tokens stop working)")
    passwd.add_argument("login")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )


def _read_password(from_stdin: bool) -> str:
    """The new password: never from argv (other users can read a process's arguments)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidError("no terminal to ask for the password on: pass --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidError("the two passwords differ")
    return first


def _line(user: User) -> str:
    state = "disabled" if user.disabled else "enabled"
    created = user.created_at.isoformat(timespec="seconds")
    return f"{user.login:<24} {user.role:<9} {state:<9} created {created}"


def _list(service: UserService, as_json: bool) -> None:
    for user in service.list():
        if as_json:
            fields = {"login": user.login, "role": user.role, "disabled": user.disabled}
            print(json.dumps({**fields, "createdAt": user.created_at.isoformat()}))
        else:
            print(_line(user))


def _dispatch(args: argparse.Namespace, service: UserService) -> str:
    action = args.users_command
    if action == "add":
        user = service.create(args.login, _read_password(args.password_stdin), args.role)
        return f"created {user.login} ({user.role})"
    if action == "list":
        _list(service, args.json)
        return ""
    if action in ("disable", "enable"):
        service.update(args.login, disabled=action == "disable")
        return f"{args.login} {action}d"
    if action == "passwd":
        service.update(args.login, password=_read_password(args.password_stdin))
        return f"password of {args.login} changed; their earlier login tokens no longer work"
    service.delete(args.login)
    return f"deleted {args.login}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    service = UserService(settings, UserStore(connect(settings, name="jobline-cli")))
    try:
        service.bootstrap_admin()
        message = _dispatch(args, service)
    except JoblineError as e:
        details = f" {json.dumps(e.details)}" if e.details else ""
        print(f"jobline users {args.users_command}: {e.message}{details}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0
