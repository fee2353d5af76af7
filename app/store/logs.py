"""Captured job logs in Redis: a bounded list per job whose lines carry absolute offsets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.models import LogChunk, LogLine
from app.store.codec import parse_time
from app.store.scripts import Scripts


def encode_line(ts: datetime, level: str, message: str) -> str:
    """One line as the append script expects it: a JSON object without its offset (the script adds it)."""
    stamp = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return json.dumps({"ts": stamp, "level": level, "message": message}, ensure_ascii=False)


def decode_line(raw: bytes | str) -> LogLine | None:
    try:
        data: dict[str, Any] = json.loads(raw)
        return LogLine(
            offset=int(data["offset"]),
            ts=parse_time(data.get("ts")) or datetime.now(UTC),
            level=str(data.get("level", "")),
            message=str(data.get("message", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


class LogStore:
    """Appends (worker child) and reads (API) of a job's log list (keys.logs)."""

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    def append(
        self, job_id: str, exec_id: str, lines: Sequence[str], max_lines: int, dropped: int = 0
    ) -> int:
        """Store encoded lines after the job's last one; -1 when the execution no longer owns the job."""
        args = [job_id, exec_id, max_lines, dropped, *lines]
        return int(self.scripts.run("logs_append", [], args))

    def read(self, job_id: str, offset: int, limit: int) -> LogChunk:
        """Up to `limit` lines from `offset` on (from the oldest kept line if `offset` was trimmed)."""
        reply = self.scripts.run("logs_read", [], [job_id, max(0, offset), limit])
        lines = [line for line in (decode_line(raw) for raw in reply[1:]) if line is not None]
        return LogChunk(lines, int(reply[0]))
