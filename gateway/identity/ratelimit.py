"""Login attempts per client address, in memory (a sliding one-minute window).

Per process: with several gateway replicas the effective limit is multiplied by their
number, which is acceptable for a brake on guessing; the per-account lock in the
database is the limit that holds across replicas.
"""

from __future__ import annotations

import math
import time
from collections import deque

WINDOW_S = 60.0
# Addresses tracked at most; beyond it the oldest idle ones are dropped first.
MAX_ADDRESSES = 100_000


class AddressLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, address: str) -> int:
        """Record an attempt; 0 when allowed, else the seconds to wait."""
        now = self._clock()
        hits = self._hits.get(address)
        if hits is None:
            if len(self._hits) >= MAX_ADDRESSES:
                self._prune(now)
            hits = self._hits[address] = deque()
        while hits and hits[0] <= now - WINDOW_S:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(1, math.ceil(hits[0] + WINDOW_S - now))
        hits.append(now)
        return 0

    def _prune(self, now: float) -> None:
        for address in [a for a, h in self._hits.items() if not h or h[-1] <= now - WINDOW_S]:
            del self._hits[address]
        while len(self._hits) >= MAX_ADDRESSES:
            del self._hits[next(iter(self._hits))]
