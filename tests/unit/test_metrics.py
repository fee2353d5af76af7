"""/metrics: counters and histograms written by the Lua scripts, rendered in Prometheus text format."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from app import keys
from app.services.metrics import render_metrics
from app.store.metrics import HIST_BOUNDS_MS, Histogram
from app.store.queues import QueueStore
from tests.unit.machine import Machine, error, make_machine, ok


def _render(m: Machine) -> str:
    queues = QueueStore(m.redis, m.scripts)
    svc = SimpleNamespace(redis=m.redis, settings=SimpleNamespace(queues=("q",)), extra={"queues": queues})
    return render_metrics(svc, now_s=m.clock.s)


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _bucket(samples: dict[str, float], name: str, le: str, queue: str = "q") -> float:
    return samples[f'{name}_bucket{{queue="{queue}",le="{le}"}}']


def test_wait_and_duration_histograms_follow_the_jobs() -> None:
    m = make_machine()
    a = m.submit(max_retries=0)
    b = m.submit(max_retries=0)
    m.clock.advance(0.2)  # both waited 200 ms
    ja = m.take()
    m.clock.advance(0.1)
    jb = m.claim(ok(ja, seconds=0.004)).job  # a ran 4 ms; b waited 300 ms
    assert jb is not None
    m.claim(error(jb, seconds=2.0), mode="none")  # b failed after 2 s
    assert m.status(a) == "completed" and m.status(b) == "failed"
    s = _samples(_render(m))
    assert s['jobline_jobs_submitted_total{queue="q"}'] == 2
    assert s['jobline_jobs_finished_total{queue="q",status="completed"}'] == 1
    assert s['jobline_jobs_finished_total{queue="q",status="failed"}'] == 1
    dur = "jobline_job_duration_seconds"
    assert _bucket(s, dur, "0.005") == 1 and _bucket(s, dur, "1") == 1 and _bucket(s, dur, "2.5") == 2
    assert _bucket(s, dur, "+Inf") == 2 and s[f'{dur}_count{{queue="q"}}'] == 2
    assert s[f'{dur}_sum{{queue="q"}}'] == 2.004
    wait = "jobline_queue_wait_seconds"
    assert _bucket(s, wait, "0.1") == 0 and _bucket(s, wait, "0.25") == 1 and _bucket(s, wait, "0.5") == 2
    assert s[f'{wait}_sum{{queue="q"}}'] == 0.5


def test_a_retry_waits_again_and_a_finished_job_keeps_no_enqueue_stamp() -> None:
    m = make_machine(delays=(0.0,))
    job_id = m.submit(max_retries=1)
    first = m.take()
    m.clock.advance(1.0)
    again = m.claim(error(first, seconds=1.0)).job  # retried at once, taken in the same round trip
    assert again is not None and again.id == job_id
    m.claim(ok(again), mode="none")
    s = _samples(_render(m))
    assert s['jobline_queue_wait_seconds_count{queue="q"}'] == 2
    assert s['jobline_job_duration_seconds_count{queue="q"}'] == 2
    assert m.redis.hget(keys.job(job_id), "jl_enq") is None


def test_histogram_buckets_are_cumulative_and_end_with_the_overflow() -> None:
    h = Histogram.decode({b"5": b"2", b"3600000": b"1", b"inf": b"4", b"sum": b"9"})
    cumulative = h.cumulative()
    assert cumulative[0] == (0.005, 2) and cumulative[-2] == (3600.0, 3) and cumulative[-1][1] == 7
    assert len(cumulative) == len(HIST_BOUNDS_MS) + 1 and h.count == 7 and h.sum_ms == 9


def test_every_line_is_valid_exposition_format_and_names_are_typed() -> None:
    m = make_machine()
    m.submit(queue='we"ird')
    text = _render(m)
    typed = set(re.findall(r"^# TYPE (\S+) (?:gauge|counter|histogram)$", text, re.M))
    sample = re.compile(r'^([a-z_]+)(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (\S+)$')
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = sample.match(line)
        assert match, line
        base = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        assert match.group(1) in typed or base in typed, line
    assert 'queue="we\\"ird"' in text


def test_scheduler_gauges_show_live_schedulers_and_overdue_runs(fake_redis: Any) -> None:
    m = make_machine()
    m.redis.zadd(keys.SCHEDULERS, {"s1": m.clock.s - 3, "s2": m.clock.s - 60})
    m.redis.zadd(keys.WORKFLOW_DUE, {"wf": (m.clock.s - 42) * 1000})
    s = _samples(_render(m))
    assert s["jobline_schedulers"] == 1
    assert s["jobline_scheduler_overdue_seconds"] == 42
    m.redis.zadd(keys.WORKFLOW_DUE, {"wf": (m.clock.s + 5) * 1000})
    assert _samples(_render(m))["jobline_scheduler_overdue_seconds"] == 0
