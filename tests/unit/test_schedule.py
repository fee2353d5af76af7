"""Grid arithmetic of workflow triggers: intervals without drift, cron in a time zone, DST, misfires."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import InvalidError
from app.services.schedule import Trigger, check_cron, parse_zone


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def iso(value: int) -> str:
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


ANCHOR = ms("2026-01-01T00:00:00+00:00")
EVERY_S = Trigger(interval_ms=1000, anchor_ms=ANCHOR)


def test_interval_points_are_anchor_plus_n_intervals():
    assert EVERY_S.next_after(ANCHOR) == ANCHOR + 1000
    assert EVERY_S.next_after(ANCHOR + 1) == ANCHOR + 1000
    assert EVERY_S.next_after(ANCHOR - 5000) == ANCHOR
    assert EVERY_S.latest_at_or_before(ANCHOR + 10_500) == ANCHOR + 10_000
    assert EVERY_S.latest_at_or_before(ANCHOR - 1) is None


def test_interval_does_not_drift_over_a_long_run():
    trigger = Trigger(interval_ms=7_300, anchor_ms=ANCHOR)
    t = ANCHOR
    for _ in range(10_000):
        t = trigger.next_after(t)
    assert t == ANCHOR + 10_000 * 7_300


def test_first_run_is_the_anchor_when_ahead_else_the_next_point():
    assert EVERY_S.first_run(ANCHOR - 3000) == ANCHOR
    assert EVERY_S.first_run(ANCHOR + 2500) == ANCHOR + 3000


def test_on_time_run_keeps_its_slot_and_plans_the_next_point():
    assert EVERY_S.slot_for(ANCHOR + 5000, ANCHOR + 5004) == (ANCHOR + 5000, ANCHOR + 6000)


def test_missed_runs_become_one_catch_up_run_then_the_grid_resumes():
    slot, nxt = EVERY_S.slot_for(ANCHOR + 5000, ANCHOR + 60_400)
    assert slot == ANCHOR + 60_000
    assert nxt == ANCHOR + 61_000


def test_cron_runs_on_its_expression():
    every5 = Trigger(cron="*/5 * * * *")
    assert iso(every5.next_after(ms("2026-01-01T00:05:00+00:00"))) == "2026-01-01T00:10:00.000Z"
    assert iso(every5.latest_at_or_before(ms("2026-01-01T00:07:30+00:00"))) == "2026-01-01T00:05:00.000Z"
    assert iso(every5.latest_at_or_before(ms("2026-01-01T00:05:00+00:00"))) == "2026-01-01T00:05:00.000Z"


def test_cron_uses_the_workflows_time_zone_not_the_servers():
    noon_tokyo = Trigger(cron="0 12 * * *", timezone="Asia/Tokyo")
    assert iso(noon_tokyo.next_after(ms("2026-06-01T00:00:00+00:00"))) == "2026-06-01T03:00:00.000Z"


def test_cron_across_spring_forward_runs_at_the_next_valid_time():
    daily = Trigger(cron="30 2 * * *", timezone="Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    first = daily.next_after(ms("2026-03-28T22:00:00+00:00"))
    assert iso(first) == "2026-03-29T01:00:00.000Z"  # 03:00 CEST
    assert iso(daily.next_after(first)) == "2026-03-30T00:30:00.000Z"  # 02:30 CEST


def test_cron_across_fall_back_runs_a_fixed_hour_once():
    daily = Trigger(cron="30 2 * * *", timezone="Europe/Berlin")  # 02:30 happens twice on 2026-10-25
    first = daily.next_after(ms("2026-10-24T22:00:00+00:00"))
    assert iso(first) == "2026-10-25T00:30:00.000Z"
    assert iso(daily.next_after(first)) == "2026-10-26T01:30:00.000Z"


def test_cron_across_fall_back_keeps_every_real_half_hour():
    half_hourly = Trigger(cron="*/30 * * * *", timezone="Europe/Berlin")
    t = ms("2026-10-24T23:45:00+00:00")
    points = []
    for _ in range(5):
        t = half_hourly.next_after(t)
        points.append(iso(t)[11:16])
    assert points == ["00:00", "00:30", "01:00", "01:30", "02:00"]


def test_bad_cron_and_zone_are_validation_errors():
    for expr in ("bad", "* * * *", "* * * * * *", "61 * * * *"):
        with pytest.raises(InvalidError):
            check_cron(expr)
    with pytest.raises(InvalidError):
        parse_zone("Mars/Olympus_Mons")
