"""Fuzz every endpoint with schemathesis against the app's own OpenAPI document.

Two passes per operation: schemathesis's coverage phase (deterministic boundary values and schema
violations, field by field) and random hypothesis cases, valid and invalid. Assertions: never a 5xx,
and every error answer is the contract's {error, code, details?}. The random pass is bounded for CI
(JOBLINE_FUZZ_EXAMPLES, default 30 per operation, raises it for a longer local run).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from app.api.errors import ERROR_TABLE, HTTP_CODES
from tests.unit.security.conftest import AppKit

EXAMPLES = int(os.environ.get("JOBLINE_FUZZ_EXAMPLES", "30"))
KNOWN_CODES = {code for _, _, code in ERROR_TABLE} | {code for code, _ in HTTP_CODES.values()} | {"INTERNAL"}
STREAMS = ("text/event-stream",)


def _load(kit: AppKit) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", kit.app)


def _operation_labels() -> list[str]:
    """`METHOD /path` of every operation, read from a throwaway app."""
    return [result.ok().label for result in _load(AppKit()).get_all_operations()]


def check_answer(status: int, content_type: str, body: bytes) -> None:
    """No server error; every error is JSON {error, code, details?} with a known code."""
    assert status < 500, f"{status}: {body[:500]!r}"
    if status < 400:
        return
    assert content_type.startswith("application/json"), content_type
    error = json.loads(body)
    assert isinstance(error, dict) and set(error) <= {"error", "code", "details"}, error
    assert isinstance(error["error"], str) and error["code"] in KNOWN_CODES, error
    assert "Traceback" not in error["error"]
    if "details" in error:
        assert isinstance(error["details"], dict), error


@pytest.mark.parametrize("label", _operation_labels())
def test_fuzzed_requests_never_break_the_error_contract(label: str) -> None:
    kit = AppKit(login_rate_per_min=0)  # fuzz the login itself, not the limiter (tested on its own)
    _, admin = kit.token("fuzz", "admin")  # an API token: a fuzzed PATCH of a user cannot revoke it
    operation = _load(kit).find_operation_by_label(label)
    assert operation is not None

    # valid requests (positive) and requests that break the schema on purpose (negative)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        _send(kit, case, {**admin, **(case.headers or {})})  # generated auth headers win: bad tokens too

    run()


def _send(kit: AppKit, case: Any, headers: dict[str, str]) -> None:
    """Send one case through the app and check the answer (streams: status and headers only)."""
    response = kit.client.open(**case.as_transport_kwargs(headers=headers), buffered=False)
    try:
        body = b"" if response.mimetype in STREAMS else response.get_data()
        check_answer(response.status_code, response.content_type or "", body)
    finally:
        response.close()


@pytest.mark.parametrize("label", _operation_labels())
def test_boundary_cases_never_break_the_error_contract(label: str) -> None:
    """schemathesis's coverage phase: deterministic boundary values and schema violations per field."""
    kit = AppKit(login_rate_per_min=0)
    _, admin = kit.token("fuzz", "admin")
    schema = _load(kit)
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    cases = schema.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=schema.config.generation_for(operation=operation),
    )
    sent = 0
    for case in cases:
        _send(kit, case, {**(case.headers or {}), **admin})  # the token wins: these cases probe the data
        sent += 1
    assert sent > 0


def test_the_checker_catches_a_bad_error_body():
    with pytest.raises(AssertionError):
        check_answer(400, "application/json", b'{"message": "bad"}')
    with pytest.raises(AssertionError):
        check_answer(500, "application/json", b'{"error": "Internal error", "code": "INTERNAL"}')
    with pytest.raises(AssertionError):
        check_answer(404, "text/html", b"<h1>Not Found</h1>")
    check_answer(404, "application/json", b'{"error": "Job not found", "code": "NOT_FOUND"}')
