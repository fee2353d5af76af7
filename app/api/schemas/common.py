"""Fields shared by the schemas: contract times (ISO 8601 UTC, milliseconds, Z) and strict values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate


def iso_ms(dt: datetime | None) -> str | None:
    """2026-11-22T08:00:00.123Z"""
    if dt is None:
        return None
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def redact(value: Any) -> Any:
    """`value` with the values of secret-looking keys replaced by "***", at any depth."""
    if isinstance(value, dict):
        return {
            k: REDACTED if v is not None and isinstance(k, str) and SECRET_KEY_RE.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def restore_redacted(new: Any, old: Any) -> Any:
    """`new` with each "***" under a secret-looking key replaced by what `old` holds there, so a client
    that sends back what it read (GET a workflow, change one field, PATCH it whole) keeps the secret."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {
            k: old[k]
            if v == REDACTED and isinstance(k, str) and SECRET_KEY_RE.search(k) and k in old
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
