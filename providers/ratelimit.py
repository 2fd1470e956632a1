"""A request budget per provider account, shared by every process and machine.

The budget is a sliding window of `limit` requests per `period` seconds,
counted in slices kept in a shared store: the Django cache when it is Redis or
local memory (atomic increments), otherwise a small database table (a
conditional UPDATE is atomic in every database Django supports). A request
first takes a slot, then checks the window; if the window is over the limit it
gives the slot back and waits for the next slice. Two processes racing for the
last slot may both back off, never both proceed.

The window counted is one to two slices longer than `period`, so the budget
never exceeds the provider's limit in any window of `period` seconds, even when
a request reaches the provider a little after the budget allowed it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from providers.errors import RateLimited

ATOMIC_CACHE_BACKENDS = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.locmem.LocMemCache",
)


class CacheStore:
    """Counters in the Django cache (Redis or local memory)."""

    def take(self, block_key: str, key: str, ttl: float, earlier: list[str]):
        """(blocked until, the count of `key` after adding one, the sum of `earlier`).

        On Redis one pipelined round trip: every provider request and gateway call
        takes a slot, and three round trips (each through a new client object of
        Django's) were a tenth of a busy sync cluster's CPU (issue 13).
        """
        client = _redis_client(key)
        if client is None:
            return _take_one_by_one(self, block_key, key, ttl, earlier)
        name = cache.make_and_validate_key
        pipe = client.pipeline(transaction=False)
        pipe.get(name(block_key))
        pipe.set(name(key), 0, ex=math.ceil(ttl), nx=True)
        pipe.incr(name(key))
        pipe.mget([name(k) for k in earlier])
        blocked, _, taken, counts = pipe.execute()
        before = sum(int(count) for count in counts if count is not None)
        return _block_seconds(blocked), int(taken), before

    def incr(self, key: str, ttl: float) -> int:
        client = _redis_client(key)
        if client is not None:
            # One round trip instead of the three of add + incr (Django's incr asks
            # EXISTS first): every gateway call and every provider request counts here.
            name = cache.make_and_validate_key(key)
            pipe = client.pipeline(transaction=False)
            pipe.set(name, 0, ex=math.ceil(ttl), nx=True)
            pipe.incr(name)
            return int(pipe.execute()[1])
        cache.add(key, 0, timeout=math.ceil(ttl))
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=math.ceil(ttl))
            return 1

    def decr(self, key: str) -> None:
        with contextlib.suppress(ValueError):
            cache.decr(key)

    def total(self, keys: list[str]) -> int:
        return sum(int(v) for v in cache.get_many(keys).values())

    # A block is kept in milliseconds, an integer: Django stores integers in Redis as
    # they are, so the pipeline in take() reads it without Django's serializer.

    def get_block(self, key: str) -> float:
        return _block_seconds(cache.get(key))

    def set_block(self, key: str, until: float) -> None:
        timeout = max(1, math.ceil(until - time.time()) + 1)
        cache.set(key, math.ceil(until * 1000), timeout=timeout)


def _block_seconds(stored) -> float:
    """A block's end in seconds from what the store holds (milliseconds, or nothing)."""
    try:
        return int(stored or 0) / 1000
    except (TypeError, ValueError):  # written in another format (before an upgrade)
        return 0.0


def _take_one_by_one(store, block_key: str, key: str, ttl: float, earlier: list[str]):
    return store.get_block(block_key), store.incr(key, ttl=ttl), store.total(earlier)


def _redis_client(key: str):
    """The redis-py client behind the default cache when it is Django's RedisCache, else
    None. Django stores integers as plain Redis integers, so INCR and `cache.get` agree.

    Kept on the cache backend (one per thread): Django's own calls build a new client
    object every time.
    """
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    client = getattr(backend, "_smsdesk_write_client", None)
    if client is None:
        client = backend._cache.get_client(key, write=True)  # the same server for any key
        backend._smsdesk_write_client = client
    return client


class DatabaseStore:
    """Counters in the RateCounter table, for setups without an atomic cache."""

    def incr(self, key: str, ttl: float) -> int:
        from providers.models import RateCounter

        expires = timezone.now() + timedelta(seconds=ttl)
        with transaction.atomic():
            updated = RateCounter.objects.filter(key=key).update(count=models.F("count") + 1)
            if not updated:
                try:
                    with transaction.atomic():
                        RateCounter.objects.create(key=key, count=1, expires=expires)
                    return 1
                except IntegrityError:
                    RateCounter.objects.filter(key=key).update(count=models.F("count") + 1)
            return RateCounter.objects.get(key=key).count

    def decr(self, key: str) -> None:
        from providers.models import RateCounter

        RateCounter.objects.filter(key=key).update(count=models.F("count") - 1)

    def total(self, keys: list[str]) -> int:
        from providers.models import RateCounter

        counts = RateCounter.objects.filter(key__in=keys).values_list("count", flat=True)
        return sum(counts)

    def take(self, block_key: str, key: str, ttl: float, earlier: list[str]):
        """(blocked until, the count of `key` after adding one, the sum of `earlier`)."""
        return _take_one_by_one(self, block_key, key, ttl, earlier)

    def get_block(self, key: str) -> float:
        from providers.models import RateCounter

        row = RateCounter.objects.filter(key=key).values_list("count", flat=True).first()
        return float(row or 0)

    def set_block(self, key: str, until: float) -> None:
        from providers.models import RateCounter

        expires = timezone.now() + timedelta(seconds=max(1.0, until - time.time()))
        RateCounter.objects.update_or_create(
            key=key, defaults={"count": math.ceil(until), "expires": expires}
        )

    @staticmethod
    def purge_expired() -> int:
        from providers.models import RateCounter

        return RateCounter.objects.filter(expires__lt=timezone.now()).delete()[0]


def default_store() -> CacheStore | DatabaseStore:
    choice = getattr(settings, "RATE_BUDGET_STORE", "auto")
    if choice == "cache":
        return CacheStore()
    if choice == "database":
        return DatabaseStore()
    backend = settings.CACHES["default"]["BACKEND"]
    return CacheStore() if backend in ATOMIC_CACHE_BACKENDS else DatabaseStore()


class RateBudget:
    """At most `limit` requests per `period` seconds under the name `name`."""

    def __init__(
        self,
        name: str,
        limit: int,
        period: float,
        *,
        slices: int = 10,
        store: CacheStore | DatabaseStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1 or period <= 0:
            raise ValueError("A rate budget needs a positive limit and period.")
        self.name = name
        self.limit = limit
        self.period = period
        self.slices = slices
        self.slice_length = period / slices
        self.store = store or default_store()
        self.clock = clock
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"RateBudget({self.name!r}, {self.limit}/{self.period:g}s)"

    @property
    def _block_key(self) -> str:
        return f"rb:{self.name}:blocked"

    def _slice_key(self, index: int) -> str:
        return f"rb:{self.name}:{index}"

    def try_acquire(self) -> float:
        """Take a slot if the window allows; return 0, or the seconds to wait."""
        now = self.clock()
        index = int(now // self.slice_length)
        current = self._slice_key(index)
        # One guard slice beyond the period absorbs the time between deciding
        # and the request reaching the provider.
        earlier = [self._slice_key(i) for i in range(index - self.slices - 1, index)]
        blocked_until, taken, before = self.store.take(
            self._block_key, current, self.period + 3 * self.slice_length, earlier
        )
        if blocked_until > now:
            self.store.decr(current)
            return blocked_until - now
        within = taken + before <= self.limit
        if within and int(self.clock() // self.slice_length) == index:
            return 0.0
        self.store.decr(current)
        if within:  # the store was slow and the slot aged: take a fresh one
            return 0.001
        return max((index + 1) * self.slice_length - self.clock(), 0.001)

    def acquire(self, max_wait: float = 10.0) -> None:
        """Wait for a slot; raise RateLimited when none frees up within `max_wait`."""
        deadline = self.clock() + max_wait
        while True:
            wait = self.try_acquire()
            if wait == 0:
                return
            if self.clock() + wait > deadline:
                raise RateLimited(
                    "smsdesk is holding requests back to stay under the provider's rate limit.",
                    retry_after=round(wait, 2),
                    details={"budget": self.name},
                )
            self.sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Stop every process from calling for `seconds` (after the provider said 429)."""
        until = self.clock() + seconds
        if until > self.store.get_block(self._block_key):
            self.store.set_block(self._block_key, until)

    def used(self) -> int:
        """Requests counted in the current window (for status pages and tests)."""
        index = int(self.clock() // self.slice_length)
        keys = [self._slice_key(i) for i in range(index - self.slices - 1, index + 1)]
        return self.store.total(keys)
