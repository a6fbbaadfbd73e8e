"""How many tablet syncs one gateway process serves at once.

At 8:30 on a Monday every tablet of a province syncs. Served all at once, thousands of pulls and
pushes share the CPU: each takes minutes, a push's second half times out after its first half's
work was done (and must be done again), and every tablet waits as long as the slowest. So each
gateway process serves at most `GATEWAY_SYNC_CONCURRENCY` pulls and pushes at a time. A request
that finds every slot taken waits up to `GATEWAY_SYNC_ADMISSION_WAIT_S` for one (first come, first
served: asyncio's semaphore wakes its waiters in order), then is answered 503 with `Retry-After`
before anything is done for it: the tablet comes back later (WatermelonDB's
sync is retried whole, and a retried push converges, docs/sync.md), while the ones admitted finish
in seconds. The total work is the same; it is done in an order instead of all at once.

The wait to come back is spread at random over RETRY_AFTER_S, so that the tablets turned away in
the same second do not all return in the same second.

Measured in the province's storm (bench/results/storm-province-2026-12-07/, 4,451 tablets over
5 minutes on 2 cores): without a limit, p50 of a tablet's sync 165 s, 35 tablets cut off, gateway
peak 356 MB; with 32 slots and a 1 s wait, no errors but 39,040 turn-aways and p99 432 s (tablets
coming back at random lose their turn to newcomers); with a 10 s wait, p50 99 s, p99 308 s, no
errors, 12,884 turn-aways, gateway peak 183 MB. The storm needs more CPU than two cores have in 5
minutes either way (docs/performance.md): the limit decides who waits, not how much work there is.
"""

from __future__ import annotations

import asyncio
import random

from shared.errors import AppError, send_problem

# Seconds a tablet turned away is told to wait: long enough for the syncs admitted meanwhile to
# finish (a few seconds each on two cores), spread so that the returns do not bunch up.
RETRY_AFTER_S = (5, 30)


class SyncBusy(AppError):
    """Every sync slot of this gateway process is taken: come back after Retry-After."""

    status_code, title, type = 503, "Sync busy", "sync-busy"

    def __init__(self) -> None:
        super().__init__("The server is serving other tablets' syncs; sync again after Retry-After seconds.",
                         headers={"Retry-After": str(random.randint(*RETRY_AFTER_S))})


class SyncAdmission:
    """At most `limit` syncs in flight (0: no limit); a sync waits up to `wait_s` for a slot."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None
        self._wait_s = wait_s

    async def acquire(self) -> None:
        """A slot, or SyncBusy once `wait_s` has passed without one. Give it back with `release`."""
        if self._slots is None:
            return
        try:
            async with asyncio.timeout(self._wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise SyncBusy() from None

    def release(self) -> None:
        if self._slots is not None:
            self._slots.release()


# The routes admitted: a pull (GET) and a push (POST); the schema (GET /v1/sync/schema) is cheap.
SYNC_PATH = "/v1/sync"


class SyncAdmissionMiddleware:
    """Plain ASGI middleware: a pull or push holds a slot of the process's SyncAdmission from before
    its route runs until its whole answer is sent (a pull streams for a while after its route has
    returned), or is answered 503 at once when none comes free in time. Here rather than in the
    routes: the slot is given back however the request ends, a stream never started included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != SYNC_PATH:
            return await self.app(scope, receive, send)
        admission: SyncAdmission | None = scope["app"].state.sync_admission
        if admission is None:
            return await self.app(scope, receive, send)
        try:
            await admission.acquire()
        except SyncBusy as exc:
            return await send_problem(scope, receive, send, exc.to_problem(scope["path"]), exc.headers)
        try:
            await self.app(scope, receive, send)
        finally:
            admission.release()
