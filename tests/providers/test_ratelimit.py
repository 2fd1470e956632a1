"""The shared rate budget: never more than `limit` requests in any window."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from providers.errors import RateLimited
from providers.ratelimit import CacheStore, DatabaseStore, RateBudget

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_it_allows_up_to_the_limit_then_waits():
    clock = FakeClock()
    budget = RateBudget(
        f"t-{uuid.uuid4()}", 5, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep
    )
    for _ in range(5):
        assert budget.try_acquire() == 0
    assert budget.try_acquire() > 0


def test_it_waits_for_the_window_to_move():
    clock = FakeClock()
    budget = RateBudget(
        f"t-{uuid.uuid4()}", 3, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep
    )
    stamps = []
    for _ in range(9):
        budget.acquire(max_wait=10)
        stamps.append(clock.now)
    # No window of one second holds more than three requests.
    for i, t in enumerate(stamps):
        assert sum(1 for u in stamps[i:] if u - t < 1.0) <= 3


def test_it_raises_rate_limited_when_the_wait_is_too_long():
    clock = FakeClock()
    budget = RateBudget(
        f"t-{uuid.uuid4()}", 1, 60.0, store=CacheStore(), clock=clock, sleep=clock.sleep
    )
    budget.acquire()
    with pytest.raises(RateLimited) as info:
        budget.acquire(max_wait=1)
    assert info.value.retry_after > 1


def test_a_429_blocks_everyone_for_the_retry_after():
    clock = FakeClock()
    name = f"t-{uuid.uuid4()}"
    one = RateBudget(name, 100, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep)
    two = RateBudget(name, 100, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep)
    one.block_for(7)
    assert two.try_acquire() == pytest.approx(7, abs=0.01)


@pytest.mark.django_db(transaction=True)
def test_the_database_store_holds_across_threads():
    name = f"t-{uuid.uuid4()}"
    taken, errors = [], []
    lock = threading.Lock()

    def worker():
        from django.db import connection

        try:
            budget = RateBudget(name, 10, 5.0, store=DatabaseStore())
            for _ in range(10):
                if budget.try_acquire() == 0:
                    with lock:
                        taken.append(time.time())
        except Exception as exc:  # surfaced below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(taken) == 10


COUNTER = r"""
import os, sys, time, json, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
django.setup()
from providers.ratelimit import RateBudget
budget = RateBudget(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
stamps = []
end = time.time() + float(sys.argv[4])
while time.time() < end:
    budget.acquire(max_wait=30)
    stamps.append(time.time())
print(json.dumps(stamps))
"""


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


@pytest.mark.slow
def test_it_holds_across_two_processes_sharing_redis():
    import json

    url = _redis_url()
    if url is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis reachable")
    name, limit, period, duration = f"proc-{uuid.uuid4()}", 10, 1.0, 3.0
    env = {**os.environ, "REDIS_URL": url, "SMSDESK_ENV_FILE": ""}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, name, str(limit), str(period), str(duration)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    per_process = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(per_process)  # both made progress (a loaded CI machine may slow them)
    stamps = sorted(s for found in per_process for s in found)
    assert len(stamps) >= limit * duration * 0.3
    # The stamps are taken just after each decision; a loaded machine can
    # delay a stamp by a scheduler tick, so allow that much slack. Without a
    # shared budget the two processes would put about 2x the limit in a window.
    window = period - 0.1
    for i, t in enumerate(stamps):
        in_window = sum(1 for u in stamps[i:] if u - t < window)
        assert in_window <= limit, f"{in_window} requests within {window}s"


@pytest.fixture
def redis_cache():
    """The default cache on the test Redis (a key prefix of its own), connected."""
    from django.core.cache import caches
    from django.test import override_settings

    url = _redis_url()
    if url is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis reachable")
    settings = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        }
    }
    with override_settings(CACHES=settings):
        caches["default"].get("warm-up")  # the connection is made outside any count
        yield caches["default"]
        caches["default"].close()  # the tests' keys expire by themselves


@contextmanager
def redis_round_trips():
    """The commands sent to Redis within the block, one entry per round trip."""
    from unittest import mock

    from redis.connection import Connection

    sends = []
    real_send = Connection.send_packed_command

    def counting_send(self, command, check_health=True):
        sends.append(command)
        return real_send(self, command, check_health)

    with mock.patch.object(Connection, "send_packed_command", counting_send):
        yield sends


def test_a_redis_counter_takes_one_round_trip_and_expires(redis_cache):
    """On Redis a counter step is one pipelined round trip (SET NX EX + INCR), not
    add + EXISTS + INCRBY: the gateway counts every status poll this way."""
    store, key = CacheStore(), f"c-{uuid.uuid4()}"
    with redis_round_trips() as sends:
        assert store.incr(key, ttl=30) == 1
    assert len(sends) == 1
    assert store.incr(key, ttl=30) == 2
    assert redis_cache.get(key) == 2  # Django reads the plain integer back
    client = redis_cache._cache.get_client(key)
    ttl = client.ttl(redis_cache.make_and_validate_key(key))
    assert 0 < ttl <= 30
    redis_cache.delete(key)


def test_on_redis_a_slot_is_taken_in_one_round_trip_and_a_block_is_seen(redis_cache):
    """try_acquire on Redis: the block, the slot and the window in one pipelined round
    trip (three round trips, each through a new client object, were a tenth of a busy
    sync cluster's CPU); a 429's block set by one budget stops another at once."""
    clock, name = FakeClock(), f"t-{uuid.uuid4()}"
    budget = RateBudget(name, 3, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep)
    with redis_round_trips() as sends:
        assert budget.try_acquire() == 0
    assert len(sends) == 1
    assert [budget.try_acquire() for _ in range(2)] == [0, 0]
    assert budget.try_acquire() > 0  # the fourth in the window waits
    assert budget.used() == 3  # the refused slot was given back

    clock.now += 5  # a new window
    other = RateBudget(name, 3, 1.0, store=CacheStore(), clock=clock, sleep=clock.sleep)
    other.block_for(30)
    assert 29 < budget.try_acquire() <= 30  # blocked, read through the pipeline
    assert budget.used() == 0  # and no slot kept while blocked
