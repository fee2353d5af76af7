"""Grid arithmetic for workflow triggers: interval and cron run times, drift-free and DST-safe.

Interval runs are planned at anchor + n * interval (integer milliseconds, so nothing accumulates);
cron runs follow the expression in the workflow's time zone. Nothing here reads a clock: `now` is
always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.errors import InvalidError

HOUR = timedelta(hours=1)


def _utc_ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidError("Invalid request", {"timezone": [f"Unknown time zone {name!r}."]}) from None


def _croniter() -> Any:
    """croniter, imported on first use: an API process that never sees cron triggers keeps ~1 MB."""
    from croniter import croniter

    return croniter


def check_cron(expr: str) -> None:
    """A 5-field cron expression that croniter parses."""
    if len(expr.split()) != 5 or not _croniter().is_valid(expr):
        raise InvalidError("Invalid request", {"cron": [f"Not a valid 5-field cron expression: {expr!r}."]})


@dataclass(frozen=True)
class Trigger:
    """When a workflow runs by itself: every `interval_ms` from `anchor_ms`, or by `cron` in `timezone`."""

    interval_ms: int | None = None
    anchor_ms: int = 0
    cron: str | None = None
    timezone: str = "UTC"

    def next_after(self, t_ms: int) -> int:
        """The first planned time strictly after `t_ms`."""
        if self.interval_ms:
            if t_ms < self.anchor_ms:
                return self.anchor_ms
            n = (t_ms - self.anchor_ms) // self.interval_ms + 1
            return self.anchor_ms + n * self.interval_ms
        return self._cron_next(t_ms)

    def latest_at_or_before(self, t_ms: int) -> int | None:
        """The last planned time at or before `t_ms` (None before the first one)."""
        if self.interval_ms:
            if t_ms < self.anchor_ms:
                return None
            return self.anchor_ms + (t_ms - self.anchor_ms) // self.interval_ms * self.interval_ms
        return self._cron_prev(t_ms + 1)

    def first_run(self, now_ms: int) -> int:
        """The first planned time of a new (or resumed) trigger: the anchor if ahead, else the next point."""
        if self.interval_ms and self.anchor_ms >= now_ms:
            return self.anchor_ms
        return self.next_after(now_ms)

    def slot_for(self, planned_ms: int, now_ms: int) -> tuple[int, int]:
        """(slot, next) for a run that came due: a late run (missed points) becomes one catch-up run for
        the latest missed point, then the grid resumes after it."""
        latest = self.latest_at_or_before(now_ms)
        slot = max(planned_ms, latest) if latest is not None else planned_ms
        return slot, self.next_after(slot)

    # --- cron ----------------------------------------------------------------------------------------
    def _zone(self) -> ZoneInfo:
        return parse_zone(self.timezone)

    def _hour_is_specific(self) -> bool:
        assert self.cron is not None
        return self.cron.split()[1] not in ("*", "*/1")

    def _repeated_wall_time(self, dt: datetime, zone: ZoneInfo) -> bool:
        """True for the second occurrence of a wall time in the hour a fall-back DST change repeats."""
        earlier = (dt.astimezone(UTC) - HOUR).astimezone(zone)
        return earlier.replace(tzinfo=None) == dt.astimezone(zone).replace(tzinfo=None)

    def _cron_next(self, t_ms: int) -> int:
        assert self.cron is not None
        zone = self._zone()
        it = _croniter()(self.cron, _from_ms(t_ms).astimezone(zone))
        for _ in range(4):
            candidate: datetime = it.get_next(datetime)
            if not (self._hour_is_specific() and self._repeated_wall_time(candidate, zone)):
                return _utc_ms(candidate)
        return _utc_ms(candidate)

    def _cron_prev(self, t_ms: int) -> int | None:
        assert self.cron is not None
        zone = self._zone()
        it = _croniter()(self.cron, _from_ms(t_ms).astimezone(zone))
        for _ in range(4):
            candidate: datetime = it.get_prev(datetime)
            if not (self._hour_is_specific() and self._repeated_wall_time(candidate, zone)):
                return _utc_ms(candidate)
        return None
