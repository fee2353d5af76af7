"""Loads Jobline's Lua scripts: each is the generated key prelude + lib.lua + its own body."""

from __future__ import annotations

import time
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script

from app import keys
from app.store.metrics import HIST_BOUNDS_MS

SCRIPT_NAMES = (
    "submit",
    "claim",
    "heartbeat",
    "progress",
    "cancel",
    "delete",
    "retry",
    "page",
    "reads",
    "logs_append",
    "logs_read",
    "fire",
    "bulk",
)
EVENTS_MAXLEN = 10000


def _lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def prelude() -> str:
    """Lua that defines K (key prefixes from app/keys.py) and the script's clock NOW_US/NOW_MS/NOW."""
    entries = ", ".join(f"{name} = {_lua_string(prefix)}" for name, prefix in keys.lua_prefixes().items())
    return "\n".join(
        [
            f"local K = {{{entries}}}",
            f"local EVENTS_MAXLEN = {EVENTS_MAXLEN}",
            f"local HIST_BOUNDS = {{{', '.join(str(b) for b in HIST_BOUNDS_MS)}}}",
            "local NOW_US",
            "if ARGV[1] ~= nil and ARGV[1] ~= '' then NOW_US = tonumber(ARGV[1]) else",
            "  local t = redis.call('TIME'); NOW_US = tonumber(t[1]) * 1000000 + tonumber(t[2]) end",
            "local NOW_MS = math.floor(NOW_US / 1000)",
            "local NOW = NOW_US / 1000000",
            "",
        ]
    )


@cache
def source(name: str) -> str:
    """The full Lua source of script `name`."""
    lua = resources.files("app.store") / "lua"
    lib = (lua / "lib.lua").read_text()
    body = (lua / f"{name}.lua").read_text()
    return prelude() + lib + "\n" + body


class Scripts:
    """The registered scripts of one Redis client; call them like functions (EVALSHA, EVAL on NOSCRIPT)."""

    def __init__(self, redis: Redis, clock_us: Any = None) -> None:
        self.redis = redis
        self._clock_us = clock_us
        self._scripts: dict[str, Script] = {
            name: redis.register_script(source(name)) for name in SCRIPT_NAMES
        }

    def now_arg(self) -> str:
        """ARGV[1]: '' lets Redis's clock decide (one clock for every process); tests inject one."""
        return "" if self._clock_us is None else str(int(self._clock_us()))

    def run(self, name: str, keys_: list[str], args: list[Any], client: Any = None) -> Any:
        return self._scripts[name](keys=keys_, args=[self.now_arg(), *args], client=client)


def wall_clock_us() -> int:
    return time.time_ns() // 1000
