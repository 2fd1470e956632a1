"""Per-key sliding-window rate limits, as the providers enforce them."""

from __future__ import annotations

import threading
import time
from collections import deque


class SlidingWindow:
    """Admits at most `count` requests per `period` seconds per bucket.

    A log of admitted request times, trimmed on each hit: exact over the
    period (no fixed-window bursts at the boundary) and bounded by `count`
    entries per bucket. Refused requests are not logged, so a client that
    backs off gets through as soon as the oldest admitted request ages out.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.log: dict[tuple[str, str], deque[float]] = {}

    def hit(self, bucket: tuple[str, str], count: int, period: float) -> float | None:
        """Admit one request (return None) or return the seconds until one fits."""
        now = self.clock()
        with self.lock:
            times = self.log.setdefault(bucket, deque())
            cutoff = now - period
            while times and times[0] <= cutoff:
                times.popleft()
            if len(times) >= count:
                return times[0] + period - now
            times.append(now)
            return None

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
