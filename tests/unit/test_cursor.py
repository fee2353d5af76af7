"""Pagination cursors: opaque, round-trip exactly, and anything malformed is an InvalidError (400)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidError
from app.store.listing import decode_cursor, encode_cursor


def raw_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_round_trip():
    text = encode_cursor([2, "1767225600123", "9f1c2e0a-1111-2222-3333-444455556666"])
    assert text is not None and "=" not in text
    assert decode_cursor(text) == (2, "1767225600123", "9f1c2e0a-1111-2222-3333-444455556666")


@pytest.mark.parametrize(
    ("score", "canonical"), [("1_000", "1000"), (" 12.5 ", "12.5"), ("inf", "inf"), ("1e3", "1000")]
)
def test_scores_are_handed_on_in_canonical_form(score, canonical):
    assert decode_cursor(raw_cursor([1, score, "m"])) == (1, canonical, "m")


def test_no_position_is_no_cursor():
    assert encode_cursor(None) is None
    assert encode_cursor([]) is None


@given(
    seg=st.integers(min_value=1, max_value=10),
    score=st.floats(allow_nan=False, allow_infinity=False).map(lambda x: format(x, ".17g")),
    member=st.text(max_size=200),
)
def test_round_trip_any_position(seg, score, member):
    assert decode_cursor(encode_cursor([seg, score, member])) == (seg, score, member)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!",
        "not-base64-at-all",
        raw_cursor("just a string"),
        raw_cursor([1, "2"]),
        raw_cursor([1, "2", "m", "extra"]),
        raw_cursor({"seg": 1}),
        raw_cursor([0, "1", "m"]),
        raw_cursor([-1, "1", "m"]),
        raw_cursor(["1", "1", "m"]),
        raw_cursor([1.5, "1", "m"]),
        raw_cursor([True, "1", "m"]),
        raw_cursor([1, "abc", "m"]),
        raw_cursor([1, "nan", "m"]),
        raw_cursor([1, None, "m"]),
        raw_cursor([1, "1", 7]),
        raw_cursor([1, "1", "m" * 201]),
        raw_cursor([1, 1.5, "m"]),
        base64.urlsafe_b64encode(b"\xff\xfe[1,").decode(),
    ],
)
def test_malformed_cursor_is_invalid(text):
    with pytest.raises(InvalidError) as caught:
        decode_cursor(text)
    assert caught.value.details == {"cursor": ["Malformed cursor."]}
