"""Redis keys: every string pinned, and no key literal anywhere but app/keys.py (Python or Lua)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app import keys
from app.store import scripts

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("app", "workers", "scheduler")
# A key literal: `jobline:` / `rq:` not followed by a space ("jobline: configuration error" is prose).
KEY_LITERAL = re.compile(r"\b(jobline|rq):(?!\s)")


RQ_PINNED = {
    "RQ_JOB": "rq:job:",
    "RQ_QUEUE": "rq:queue:",
    "RQ_QUEUES": "rq:queues",
    "RQ_WIP": "rq:wip:",
    "RQ_FINISHED": "rq:finished:",
    "RQ_FAILED": "rq:failed:",
    "RQ_CANCELED": "rq:canceled:",
    "RQ_SCHEDULED": "rq:scheduled:",
    "RQ_WORKER": "rq:worker:",
    "RQ_WORKERS": "rq:workers",
    "RQ_WORKERS_BY_QUEUE": "rq:workers:",
    "RQ_PUBSUB": "rq:pubsub:",
    "RQ_RESULTS": "rq:results:",
    "RQ_EXECUTIONS": "rq:executions:",
}
JOBLINE_PINNED = {
    "PREFIX": "jobline:",
    "QUEUES": "jobline:queues",
    "PAUSED": "jobline:paused",
    "WAKE": "jobline:wake:",
    "INDEX": "jobline:ix:",
    "RETRYING": "jobline:retrying:",
    "IDEMPOTENCY": "jobline:idem:",
    "EVENTS": "jobline:events",
    "LIFETIME": "jobline:stats:lifetime",
    "THROUGHPUT": "jobline:stats:tp:",
    "SUBMITTED": "jobline:stats:submitted",
    "HISTOGRAM": "jobline:stats:hist:",
    "LOGS": "jobline:logs:",
    "LOG_FEED": "jobline:logfeed",
    "USERS": "jobline:users",
    "USER": "jobline:user:",
    "TOKENS": "jobline:tokens",
    "TOKEN": "jobline:token:",
    "WORKFLOWS": "jobline:workflows",
    "WORKFLOW": "jobline:workflow:",
    "WORKFLOW_DUE": "jobline:workflows:due",
    "WORKFLOW_CLAIM": "jobline:workflows:claim:",
    "WORKFLOWS_CHANGED": "jobline:workflows:changed",
    "SCHEDULERS": "jobline:schedulers",
    "RATE": "jobline:rate:",
    "REVOKED": "jobline:revoked:",
}


@pytest.mark.parametrize(("name", "value"), [*RQ_PINNED.items(), *JOBLINE_PINNED.items()])
def test_key_strings_are_pinned(name, value):
    assert getattr(keys, name) == value


def test_every_key_constant_is_pinned_here():
    """A new key in app/keys.py needs a pin above (and a row in its key map)."""
    constants = {
        name
        for name, value in vars(keys).items()
        if name.isupper() and isinstance(value, str) and value.startswith(("rq:", "jobline:"))
    } - {"WORKERS_BY_QUEUE_KEY", "PUBSUB_CHANNEL_TEMPLATE"}  # rq's own templates, imported from rq
    assert constants == set(RQ_PINNED) | set(JOBLINE_PINNED)


def test_key_builders():
    assert keys.job("abc") == "rq:job:abc"
    assert keys.queue_list("default", 0) == "rq:queue:default"
    assert keys.queue_list("default", 5) == "rq:queue:default@5"
    assert keys.queue_list("default", -3) == "rq:queue:default@-3"
    assert keys.list_name("mail", 2) == "mail@2"
    assert keys.started("q") == "rq:wip:q"
    assert keys.scheduled("q") == "rq:scheduled:q"
    assert keys.terminal("q", "completed") == "rq:finished:q"
    assert keys.terminal("q", "failed") == "rq:failed:q"
    assert keys.terminal("q", "canceled") == "rq:canceled:q"
    assert keys.index("task", "demo.echo", "pending") == "jobline:ix:task:demo.echo:pending"
    assert keys.retrying("q") == "jobline:retrying:q"
    assert keys.wake("q") == "jobline:wake:q"
    assert keys.idempotency("admin", "k1") == "jobline:idem:admin:k1"
    assert keys.logs("abc") == "jobline:logs:abc"
    assert keys.worker("w1") == "rq:worker:w1"
    assert keys.workers_of_queue("q") == "rq:workers:q"
    assert keys.throughput("1m", 42) == "jobline:stats:tp:1m:42"
    assert keys.workflow("wf1") == "jobline:workflow:wf1"
    assert keys.workflow_claim("wf1", 1767225600000) == "jobline:workflows:claim:wf1:1767225600000"


def test_lua_prefixes_come_from_the_constants():
    prefixes = keys.lua_prefixes()
    assert prefixes["job"] == keys.RQ_JOB and prefixes["ix"] == keys.INDEX
    assert all(v.startswith(("rq:", "jobline:")) for v in prefixes.values())
    prelude = scripts.prelude()
    for value in prefixes.values():
        assert f"'{value}'" in prelude


def _python_files() -> list[Path]:
    files = [p for d in SCANNED for p in (ROOT / d).rglob("*.py")]
    return [p for p in files if p != ROOT / "app" / "keys.py"]


def _key_literals(source: str, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename=label)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_LITERAL.search(node.value):
            found.append(f"{label}:{node.lineno}: {node.value!r}")
    return found


def test_no_key_literal_outside_keys_py():
    files = _python_files()
    assert len(files) > 20  # the scan really looks at the code
    offenders = [hit for p in files for hit in _key_literals(p.read_text(), str(p.relative_to(ROOT)))]
    assert offenders == []


def test_no_key_literal_in_lua():
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.lua")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("--", 1)[0]
            if re.search(r"""['"](jobline|rq):""", code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ('KEY = "jobline:foo"', True),
        ('KEY = f"rq:job:{x}"', True),
        ('KEY = "rq:"', True),
        ('"""Docstring naming jobline:events."""', True),
        ('print("jobline: configuration error")', False),
        ('msg = "worker: stopped"', False),
    ],
)
def test_the_scan_catches_keys_and_spares_prose(source, caught):
    assert bool(_key_literals(source, "mod.py")) is caught
