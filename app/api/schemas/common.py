"""Fields shared by the schemas: contract times (ISO 8601 UTC, milliseconds, Z) and strict values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate


def iso_ms(dt: datetime | None) -> str | None:
    """2026-11-22T08:00:00.123Z"""
    if dt is None:
        return None
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return _utc_iso_ms(dt)


# A page formats ~6 times per job, often one instant twice (a finished job's updatedAt is its completedAt, its
# last attempt's times are its own), and pages are read again while their jobs keep their times: a cached
# time costs ~0.1 us, formatting ~0.9 us. Keys are aware UTC datetimes; 4096 entries hold ~1 MB at most.
@lru_cache(maxsize=4096)
def _utc_iso_ms(dt: datetime) -> str:
    return dt.isoformat("T", "milliseconds")[:-6] + "Z"  # [:-6]: the "+00:00" of a UTC time


class Time(fields.Field):
    """Dumps a datetime in the contract's form; loads ISO 8601 (a time without zone is UTC)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return iso_ms(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("Not a valid ISO 8601 time.")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError("Not a valid ISO 8601 time.") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class JsonAny(fields.Raw):
    """Any JSON value, dumped as is."""


# Keys whose values an API answer never shows (params, inputData, workflow params): the task still gets
# them; dashboards, logs of HTTP traffic and every viewer see "***". Substrings, case-insensitive.
SECRET_KEY_RE = re.compile(
    r"(?i)passw(or)?d|passwd|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie"
)
REDACTED = "***"
_CONTAINERS = (dict, list)


def redact(value: Any) -> Any:
    """`value` with the values of secret-looking keys replaced by "***", at any depth."""
    if isinstance(value, dict):
        shown = {}
        for k, v in value.items():
            if v is not None and isinstance(k, str) and is_secret_key(k):
                shown[k] = REDACTED
            else:  # scalars as they are, without a call each: pages redact the params of 50+ jobs
                shown[k] = redact(v) if isinstance(v, _CONTAINERS) else v
        return shown
    if isinstance(value, list):
        return [redact(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


def is_secret_key(key: str) -> bool:
    """Whether values under `key` are never shown (SECRET_KEY_RE matches it)."""
    return _short_secret_key(key) if len(key) <= 64 else SECRET_KEY_RE.search(key) is not None


# The search costs ~0.5-1 us a key, and pages redact the same few parameter names over and over.
@lru_cache(maxsize=1024)
def _short_secret_key(key: str) -> bool:
    return SECRET_KEY_RE.search(key) is not None


def restore_redacted(new: Any, old: Any) -> Any:
    """`new` with each "***" under a secret-looking key replaced by what `old` holds there, so a client
    that sends back what it read (GET a workflow, change one field, PATCH it whole) keeps the secret."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {
            k: old[k]
            if v == REDACTED and isinstance(k, str) and is_secret_key(k) and k in old
            else restore_redacted(v, old.get(k))
            for k, v in new.items()
        }
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [restore_redacted(n, o) for n, o in zip(new, old, strict=True)]
    return new


class RedactedJson(fields.Raw):
    """A JSON value dumped with secret-looking keys' values redacted (see `redact`)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return redact(value)


def text(max_len: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_len), **kwargs)


class StrictSchema(Schema):
    """Unknown fields are an error (marshmallow's RAISE), so typos never pass silently."""
