"""The job hash codec's fast paths read exactly what their plain stdlib forms read."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.store.codec import BadJobData, decode_data, decode_job, encode_data, loads_json, parse_time

JSON_TEXTS = [
    "null",
    "[]",
    "{}",
    '["a", "b\\n", "\\u00e9"]',
    '{"n": 123456789012345678901234567890, "f": 1.5, "t": true}',  # integers beyond 64 bits stay exact
    " null",
    "null ",
    "\n[1]\t",
    "NaN",
    "[Infinity, -Infinity]",
    '["\\ud800"]',
    '{"a": 1, "a": 2}',
    "null x",
    "[1] [2]",
    "\ufeffnull",
    "",
    " ",
    "[",
    "nul",
    "'a'",
    '"\x01"',
]


def outcome(parse, text):
    try:
        return "ok", repr(parse(text))
    except ValueError as e:
        return "error", type(e).__name__


@pytest.mark.parametrize("text", JSON_TEXTS)
def test_loads_json_is_json_loads(text):
    assert outcome(loads_json, text) == outcome(json.loads, text)


DATA = [
    encode_data("demo.echo", {"x": [1, {"y": None}], "big": 2**70}),
    b'["raw", null, [], {"a": 1}]',  # uncompressed
    zlib.compress(b' ["t", null, [], {}]'),
    zlib.compress(b'["t", null, [], {}] '),
    zlib.compress(b'["t", null, [], {}] x'),
    zlib.compress('["t\u00e9", null, [], {"k": "\u2603"}]'.encode("utf-16")),
    zlib.compress(b'\xef\xbb\xbf["t", null, [], {}]'),
    zlib.compress(b'["t", null, [], {"x": "\\ud800", "y": NaN}]'),
    zlib.compress(b'["t\xff", null, [], {}]'),
    zlib.compress(b'["t", null, [1], {}]'),
    zlib.compress(b'["'),
    b"garbage",
]


def reference_data(raw: bytes) -> tuple[str, dict]:
    try:
        text = zlib.decompress(raw)
    except zlib.error:
        text = raw
    try:
        func, _instance, args, kwargs = json.loads(text)
    except (ValueError, TypeError) as e:
        raise BadJobData("not JSON") from e
    if not isinstance(func, str) or args or not isinstance(kwargs, dict):
        raise BadJobData("not a task")
    return func, kwargs


@pytest.mark.parametrize("raw", DATA)
def test_decode_data_reads_what_json_loads_reads(raw):
    assert outcome(decode_data, raw) == outcome(reference_data, raw)


def test_parse_time_is_aware_utc_in_every_form():
    at = datetime(2026, 12, 2, 14, 33, 51, 279056, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    for text in (
        "2026-12-02T14:33:51.279056Z",
        b"2026-12-02T14:33:51.279056Z",
        "2026-12-02T14:33:51.279056+00:00",
        "2026-12-02T15:33:51.279056+01:00",
        "2026-12-02T14:33:51.279056",
        at.astimezone(paris).isoformat(),
    ):
        parsed = parse_time(text)
        assert parsed == at and parsed.tzinfo is UTC, text
    assert parse_time("") is None and parse_time(None) is None and parse_time("soon") is None


def test_decode_job_replaces_bad_utf8():
    job = decode_job("j", {b"status": b"finished", b"origin": b"q\xffz", b"jl_title": "é".encode()})
    assert job.queue == "q\ufffdz" and job.title == "é"
