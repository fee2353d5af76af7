"""Status words: the contract's names, their aliases, and rq's words in both directions."""

from __future__ import annotations

import pytest

from app.errors import InvalidError
from app.models import FROM_RQ_STATUS, RQ_STATUS, STATUS_ALIASES, TERMINAL, JobStatus, Trigger
from app.store.codec import decode_job

ALIASES = {
    "waiting": "pending",
    "queued": "pending",
    "created": "pending",
    "active": "running",
    "started": "running",
    "delayed": "scheduled",
    "deferred": "scheduled",
    "finished": "completed",
    "succeeded": "completed",
    "cancelled": "canceled",
    "aborted": "canceled",
    "stopped": "canceled",
}


@pytest.mark.parametrize("status", list(JobStatus))
def test_every_status_parses_in_any_case(status):
    assert JobStatus.parse(status.value) is status
    assert JobStatus.parse(status.value.upper()) is status
    assert JobStatus.parse(f"  {status.value.title()} ") is status


@pytest.mark.parametrize(("alias", "status"), ALIASES.items())
def test_contract_aliases(alias, status):
    assert JobStatus.parse(alias) is JobStatus(status)
    assert JobStatus.parse(alias.upper()) is JobStatus(status)


def test_alias_table_is_exactly_the_contract():
    assert {k: v.value for k, v in STATUS_ALIASES.items()} == {s.value: s.value for s in JobStatus} | ALIASES


@pytest.mark.parametrize("raw", ["", "sleeping", "complete", "fail", "pending,running"])
def test_unknown_status_is_invalid_with_details(raw):
    with pytest.raises(InvalidError) as caught:
        JobStatus.parse(raw)
    assert list(caught.value.details) == ["status"]


def test_terminal_statuses():
    assert {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED} == TERMINAL
    assert [s for s in JobStatus if s.terminal] == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED]


def test_rq_words_round_trip():
    assert RQ_STATUS == {
        JobStatus.SCHEDULED: "scheduled",
        JobStatus.PENDING: "queued",
        JobStatus.RUNNING: "started",
        JobStatus.COMPLETED: "finished",
        JobStatus.FAILED: "failed",
        JobStatus.CANCELED: "canceled",
    }
    for status, word in RQ_STATUS.items():
        assert FROM_RQ_STATUS[word] is status


@pytest.mark.parametrize(
    ("rq_word", "status"),
    [("deferred", "scheduled"), ("stopped", "canceled"), ("created", "pending"), ("finished", "completed")],
)
def test_rq_only_words_map_to_contract_statuses(rq_word, status):
    assert FROM_RQ_STATUS[rq_word] is JobStatus(status)
    job = decode_job("j", {b"status": rq_word.encode(), b"origin": b"q"})
    assert job.status is JobStatus(status)


def test_unknown_rq_word_reads_as_pending():
    assert decode_job("j", {b"status": b"rate_limited"}).status is JobStatus.PENDING


def test_trigger_parse():
    assert Trigger.parse(" manual ") is Trigger.MANUAL
    assert Trigger.parse("Automatic") is Trigger.AUTOMATIC
    with pytest.raises(InvalidError):
        Trigger.parse("cron")
