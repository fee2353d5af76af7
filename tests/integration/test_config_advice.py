"""A worker tells the operator, once at start, what in Redis's configuration puts jobs at risk."""

from __future__ import annotations

import pytest

from app.store.connection import config_advice
from tests.conftest import poll_until

pytestmark = pytest.mark.integration


@pytest.fixture
def risky_redis(real_redis):
    saved = {k: real_redis.config_get(k)[k] for k in ("maxmemory-policy", "hash-max-listpack-value")}
    real_redis.config_set("maxmemory-policy", "allkeys-lru")
    real_redis.config_set("hash-max-listpack-value", 64)
    yield real_redis
    for key, value in saved.items():
        real_redis.config_set(key, value)


def test_the_private_server_is_configured_as_recommended(real_redis):
    assert config_advice(real_redis) == []


def test_eviction_and_small_listpacks_are_named_with_their_fix(risky_redis):
    advice = config_advice(risky_redis)
    assert len(advice) == 2
    assert "maxmemory-policy noeviction" in advice[0] and "allkeys-lru" in advice[0]
    assert "hash-max-listpack-value 8192" in advice[1]


def test_a_worker_logs_the_advice_at_start(risky_redis, processes):
    processes.worker()
    poll_until(lambda: "hash-max-listpack-value 8192" in processes.logs(), timeout_s=15)
    text = processes.logs()
    assert "maxmemory-policy noeviction" in text and "hash-max-listpack-value 8192" in text
