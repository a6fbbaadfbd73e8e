"""A small answer cache for polled aggregates: one computation per key at a time, kept for
a few seconds, and served a while longer when it takes long to make again.

Dashboards poll every few seconds, often many of them on the same station and dates. While
an answer for a key is being computed, every other request for that key waits for the same
computation (the services see one query, not one per poll); a finished answer is then
served to everyone for `ttl_s`. The computation runs in its own task, so a poller that hangs
up does not cancel it for the others.

Once an answer is older than `ttl_s`, and for `stale_s` more, it is still served at once
while one new computation runs in the background (stale-while-revalidate); the poll after
that computation gets the new answer. A province's uncached month takes seconds to compute
(docs/performance.md, scenario 3a): without this, every poller of that dashboard waited
those seconds once every `ttl_s`. A new computation that is not kept (a partial answer)
leaves the older answer in place until its `stale_s` runs out.

An answer that took long to compute is kept longer: `per_compute` times its computation
time when that exceeds `ttl_s`. A province's month costs about six seconds of CPU across the
processes; recomputed every 5 s for as long as anyone polls it, it alone would keep a core busy.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class AnswerCache(Generic[T]):
    def __init__(self, ttl_s: float, max_entries: int = 2048, stale_s: float = 0.0, per_compute: float = 0.0) -> None:
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.per_compute = per_compute
        self.max_entries = max_entries
        self._done: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()  # key -> (fresh until, answer)
        self._running: dict[Hashable, asyncio.Task[T]] = {}
        self._held: dict[Hashable, T] = {}  # key -> an answer served while a whole one is awaited (`hold`)
        self._holding: set[asyncio.Task] = set()  # those waits: referenced so they are not collected midway
        self.computations = 0  # how many times compute ran: what a burst of polls cost

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]],
                  keep: Callable[[T], bool] = lambda _: True) -> T:
        """The answer for `key`: cached, being computed, or computed now. `keep(answer)`
        False serves the answer to those waiting for it but does not store it (a partial
        answer should be retried at the next poll, not repeated for ttl_s)."""
        hit = self._done.get(key)
        if hit is not None:
            fresh_until, answer = hit
            now = time.monotonic()
            if fresh_until > now:
                return answer
            if fresh_until + self.stale_s > now:
                if key not in self._running:
                    task = self._start(key, compute, keep)
                    # Nobody awaits a refresh started here: its failure is only the next poll's concern.
                    task.add_done_callback(lambda t: t.cancelled() or t.exception())
                return answer
            del self._done[key]
        held = self._held.get(key)
        if held is not None:
            return held
        task = self._running.get(key) or self._start(key, compute, keep)
        return await asyncio.shield(task)

    def hold(self, key: Hashable, answer: T, whole: Awaitable[T | None], started: float) -> None:
        """Serve `answer` for `key`, without computing, until `whole` (a computation begun at
        `started`) is done; then keep what it gives, or nothing when it gives None. A kept
        answer, fresh or stale, is still served before a held one."""
        self._held[key] = answer

        async def wait() -> None:
            try:
                found = await whole
                if found is not None:
                    self.put(key, found, time.monotonic() - started)
            finally:
                self._held.pop(key, None)

        task = asyncio.ensure_future(wait())
        self._holding.add(task)
        task.add_done_callback(self._holding.discard)

    def close(self) -> None:
        """Stop the waits begun by `hold` (at shutdown)."""
        for task in list(self._holding):
            task.cancel()

    def _start(self, key: Hashable, compute: Callable[[], Awaitable[T]], keep: Callable[[T], bool]) -> asyncio.Task:
        task = self._running[key] = asyncio.ensure_future(self._compute(key, compute, keep))
        return task

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]], keep: Callable[[T], bool]) -> T:
        self.computations += 1
        started = time.monotonic()
        try:
            answer = await compute()
        finally:
            del self._running[key]
        if keep(answer):
            self.put(key, answer, time.monotonic() - started)
        return answer

    def put(self, key: Hashable, answer: T, took_s: float = 0.0) -> None:
        """Keep `answer` for `key`, as computed in `took_s` (an answer made outside `get`)."""
        if self.ttl_s <= 0:
            return
        self._done[key] = (time.monotonic() + max(self.ttl_s, self.per_compute * took_s), answer)
        self._done.move_to_end(key)
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)

    def clear(self) -> None:
        self._done.clear()
