"""Request schemas: ranges, strict types, unknown fields, times, and the list query's rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from app.api.schemas.common import Time, iso_ms
from app.api.schemas.jobs import DeleteJobQuery, ListJobsQuery, SubmitJobSchema
from app.models import JobStatus, Trigger


def load_submit(**body):
    return SubmitJobSchema().load({"task": "demo.echo", **body})


def submit_errors(**body) -> dict:
    with pytest.raises(ValidationError) as caught:
        load_submit(**body)
    return caught.value.messages


def test_submit_defaults():
    data = load_submit()
    assert data == {
        "task": "demo.echo",
        "queue": "default",
        "params": {},
        "priority": 0,
        "max_retries": 3,
        "timeout": None,
        "scheduled_at": None,
        "title": "",
        "description": "",
    }


@pytest.mark.parametrize("value", [-5, 0, 5])
def test_priority_bounds_accepted(value):
    assert load_submit(priority=value)["priority"] == value


@pytest.mark.parametrize("value", [-6, 6, 100])
def test_priority_out_of_range(value):
    assert "priority" in submit_errors(priority=value)


@pytest.mark.parametrize(("field", "low", "high"), [("maxRetries", 0, 25), ("timeout", 1, 3600)])
def test_ranges(field, low, high):
    key = {"maxRetries": "max_retries"}.get(field, field)
    assert load_submit(**{field: low})[key] == low
    assert load_submit(**{field: high})[key] == high
    assert field in submit_errors(**{field: low - 1})
    assert field in submit_errors(**{field: high + 1})


@pytest.mark.parametrize("field", ["priority", "maxRetries", "timeout"])
@pytest.mark.parametrize("value", ["1", 1.0, 1.5, True, [1], {"a": 1}])
def test_integers_are_strict(field, value):
    assert field in submit_errors(**{field: value})


def test_unknown_fields_are_reported_by_name():
    errors = submit_errors(priorty=1, extra="x")
    assert set(errors) == {"priorty", "extra"}


def test_task_is_required_and_bounded():
    with pytest.raises(ValidationError) as caught:
        SubmitJobSchema().load({})
    assert "task" in caught.value.messages
    assert "task" in submit_errors(task="")
    assert "task" in submit_errors(task="x" * 129)


@pytest.mark.parametrize("queue", ["", "-lead", "has space", "a" * 65, "q:colon", "ü"])
def test_bad_queue_names(queue):
    assert submit_errors(queue=queue)["queue"] == ["Must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$."]


@pytest.mark.parametrize("queue", ["a", "Q1", "default", "emails.high", "a_b-c", "a" * 64])
def test_good_queue_names(queue):
    assert load_submit(queue=queue)["queue"] == queue


@pytest.mark.parametrize("params", [[], "x", 1, None])
def test_params_must_be_an_object(params):
    assert "params" in submit_errors(params=params)


def test_title_and_description_lengths():
    assert load_submit(title="t" * 200, description="d" * 2000)["title"] == "t" * 200
    assert "title" in submit_errors(title="t" * 201)
    assert "description" in submit_errors(description="d" * 2001)


def test_timeout_null_means_default():
    assert load_submit(timeout=None)["timeout"] is None


# --- scheduledAt ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-22T08:00:00.123Z", datetime(2026, 11, 22, 8, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-22T08:00:00Z", datetime(2026, 11, 22, 8, 0, tzinfo=UTC)),
        ("2026-11-22T08:00:00", datetime(2026, 11, 22, 8, 0, tzinfo=UTC)),  # no zone: UTC
        ("2026-11-22T10:00:00+02:00", datetime(2026, 11, 22, 8, 0, tzinfo=UTC)),
        ("2026-11-22T08:00:00.123456z", datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_scheduled_at_parses_to_aware_utc(raw, expected):
    parsed = load_submit(scheduledAt=raw)["scheduled_at"]
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "raw", ["tomorrow", "2026-13-01T00:00:00Z", 1767225600, 1767225600.5, "", "2" * 41, True]
)
def test_scheduled_at_rejects_non_iso(raw):
    assert "scheduledAt" in submit_errors(scheduledAt=raw)


def test_scheduled_at_null_is_none():
    assert load_submit(scheduledAt=None)["scheduled_at"] is None


def test_time_dump_is_contract_form():
    dt = datetime(2026, 11, 22, 10, 0, 0, 123999, tzinfo=UTC) - timedelta(hours=2)
    assert iso_ms(dt) == "2026-11-22T08:00:00.123Z"
    assert iso_ms(None) is None
    assert Time()._serialize(dt, "x", None) == "2026-11-22T08:00:00.123Z"


def reference_iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_time_dump_truncates_to_milliseconds_like_isoformat():
    rnd = random.Random(11)
    zones = [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        ZoneInfo("Europe/Paris"),
    ]
    times = [
        datetime(2026, 12, 31, 23, 59, 59, us, tzinfo=UTC) for us in (0, 1, 999, 1000, 1999, 500500, 999999)
    ] + [
        datetime(1, 1, 1, 0, 0, 0, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    for _ in range(2000):
        times.append(
            datetime.fromtimestamp(rnd.uniform(0, 4e9), UTC).replace(microsecond=rnd.randrange(10**6))
        )
    for dt in times:
        for zone in rnd.sample(zones, 2):
            local = dt.astimezone(zone) if 1900 < dt.year < 9999 else dt
            assert iso_ms(local) == reference_iso_ms(dt), local
    naive = datetime(2026, 3, 29, 1, 30, 0, 123999)  # read as local time, as astimezone does
    assert iso_ms(naive) == reference_iso_ms(naive)


# --- list query -----------------------------------------------------------------------------------


def test_list_query_defaults():
    q = ListJobsQuery().load({})
    assert q["limit"] == 100 and q["page"] is None and q["cursor"] is None and q["status"] is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [("RUNNING", JobStatus.RUNNING), ("queued", JobStatus.PENDING), ("Cancelled", JobStatus.CANCELED)],
)
def test_list_query_status_aliases(raw, status):
    assert ListJobsQuery().load({"status": raw})["status"] is status


def test_list_query_rejects_unknown_status():
    with pytest.raises(ValidationError) as caught:
        ListJobsQuery().load({"status": "sleeping"})
    assert "status" in caught.value.messages


@pytest.mark.parametrize("raw", ["manual", "AUTOMATIC", "Manual"])
def test_list_query_trigger(raw):
    assert ListJobsQuery().load({"trigger": raw})["trigger"] is Trigger(raw.upper())


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"page": "0"},
        {"trigger": "cron"},
        {"queue": "bad queue"},
        {"page": "1", "cursor": "abc"},
        {"sort": "asc"},
    ],
)
def test_list_query_rejects(query):
    with pytest.raises(ValidationError):
        ListJobsQuery().load(query)


def test_page_and_cursor_together_names_cursor():
    with pytest.raises(ValidationError) as caught:
        ListJobsQuery().load({"page": "2", "cursor": "abc"})
    assert "cursor" in caught.value.messages


def test_delete_query_force():
    assert DeleteJobQuery().load({})["force"] is False
    assert DeleteJobQuery().load({"force": "true"})["force"] is True
    with pytest.raises(ValidationError):
        DeleteJobQuery().load({"force": "maybe"})
