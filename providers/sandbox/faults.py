"""Failure injection: random per-protocol failure rates and a deterministic queue."""

from __future__ import annotations

import random
import threading
from collections import deque

from providers.sandbox.config import FAILURE_MODES, PROTOCOLS, QUEUE_ONLY_MODES, SandboxConfig


class Faults:
    """Decides, per request, whether and how it fails.

    The queue ("fail the next N requests of protocol P with mode M") wins over
    the random rates in `config.failures`, so tests can be exact.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        # Each queued failure is (mode, endpoint); "" matches any endpoint.
        self.queues: dict[str, deque[tuple[str, str]]] = {p: deque() for p in PROTOCOLS}
        self.rng = random.Random(config.seed)
        self.injected: dict[str, dict[str, int]] = {p: {} for p in PROTOCOLS}

    def enqueue(self, protocol: str, mode: str, count: int = 1, endpoint: str = "") -> None:
        """Fail the next `count` requests of `protocol` (to `endpoint`, when given)
        with `mode`; a count of 0 clears the queue."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"Unknown protocol {protocol!r}.")
        if mode not in FAILURE_MODES + QUEUE_ONLY_MODES:
            raise ValueError(f"Unknown failure mode {mode!r}.")
        with self.lock:
            if count <= 0:
                self.queues[protocol].clear()
            self.queues[protocol].extend([(mode, endpoint)] * max(0, count))

    def pick(self, protocol: str, endpoint: str = "") -> str | None:
        """The failure mode for this request, or None to serve it normally."""
        with self.lock:
            mode = self._dequeue(protocol, endpoint)
            if mode is None and self.config.fails_endpoint(protocol, endpoint):
                mode = self._roll(protocol)
            if mode:
                counts = self.injected[protocol]
                counts[mode] = counts.get(mode, 0) + 1
            return mode

    def _dequeue(self, protocol: str, endpoint: str) -> str | None:
        queue = self.queues[protocol]
        for index, (mode, wanted) in enumerate(queue):
            if not wanted or wanted == endpoint:
                del queue[index]
                return mode
        return None

    def _roll(self, protocol: str) -> str | None:
        rates = self.config.failures.get(protocol)
        if not rates:
            return None
        roll = self.rng.random()
        for mode in FAILURE_MODES:
            roll -= float(rates.get(mode, 0))
            if roll < 0:
                return mode
        return None

    def html_status(self, mode: str) -> int:
        """html pages come as 200 or 503; the queue-only modes pin one."""
        if mode == "html_200":
            return 200
        if mode == "html_503":
            return 503
        with self.lock:
            return self.rng.choice((200, 503))

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {
                "queued": {
                    p: [f"{mode}@{where}" if where else mode for mode, where in q]
                    for p, q in self.queues.items()
                    if q
                },
                "injected": {p: dict(c) for p, c in self.injected.items() if c},
            }

    def reset(self) -> None:
        with self.lock:
            for queue in self.queues.values():
                queue.clear()
            for counts in self.injected.values():
                counts.clear()
