"""Dashboard answers shared by every gateway worker and replica: one computation per key across them.

Each process keeps its own AnswerCache (gateway/stats/cache.py): within a process, identical polls
wait for one computation and share its answer. Across processes, a computation that process's
cache starts goes through here: the answer is taken from gateway.stats_answer while it is fresh;
otherwise the process takes the key's advisory lock (a transaction's, so it ends with the
transaction, also when the process dies) and looks again, since another may have computed it
meanwhile; only the one that finds nothing computes, and stores the answer before it releases
the lock. A burst of identical polls spread over N workers costs the services one computation;
a worker that waits longer than `wait_s` for the lock, or cannot reach the table, computes on
its own (at most one more computation per such worker, never a failed poll).

Kept for as long as the process's own cache would keep it (the cache time, or `per_compute`
times the computation when longer). Partial answers (`degraded`) are not shared, as they are not
kept. The table is UNLOGGED: nothing in it outlives being recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.stats import repository as answers_repo
from shared.db import database_unavailable

if TYPE_CHECKING:
    from gateway.stats.api import Answer

log = logging.getLogger("haolin.gateway.stats")

# Stale answers are dropped this long after they stopped being fresh.
FORGET_AFTER = timedelta(hours=1)


def key_name(key: Hashable) -> tuple[str, int]:
    """The table's key (a digest of the cache key, which holds no personal data: endpoint, station,
    dates, filters) and the advisory lock's number."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return digest.hex(), int.from_bytes(digest[:8], "big", signed=True)


class SharedAnswers:
    """`sessions`: on a pool of their own (GatewayState.running). A computation holds its key's lock,
    and so a connection, while the services count; meanwhile it reads the gateway's own figures on the
    main pool. On one pool, as many computations at once as the pool had connections each waited for
    another's connection until the pool timed out (tests/gateway/test_stats.py
    TestConnectionsHeldByFigures). When every connection of this pool is taken, a computation waits
    for one up to the pool's timeout and then computes without the others, as when the table is away."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float, per_compute: float = 0.0,
                 wait_s: float = 30.0) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self.per_compute = per_compute
        self.wait_s = wait_s
        # What a burst cost this process: answers found in the table, and computations run here.
        self.found = 0
        self.computed = 0

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Answer]],
                  keep: Callable[[Answer], bool], make: Callable[[bytes, str], Answer]) -> Answer:
        name, lock_id = key_name(key)
        answer: Answer | None = None
        try:
            async with self.sessions() as session:
                found = await answers_repo.fresh(session, name)
                if found is None:
                    await answers_repo.lock(session, lock_id, self.wait_s)
                    found = await answers_repo.fresh(session, name)
                if found is not None:
                    self.found += 1
                    return make(found.body, found.etag)
                started = time.monotonic()
                try:
                    answer = await self._compute(compute)
                except Exception as exc:
                    raise _ComputeFailed() from exc
                if keep(answer):
                    took = time.monotonic() - started
                    await answers_repo.save(session, name, answer.body, answer.etag,
                                            timedelta(seconds=max(self.ttl_s, self.per_compute * took)))
                    await answers_repo.forget_stale(session, FORGET_AFTER)
                    await session.commit()
                return answer
        except _ComputeFailed as failed:
            raise failed.__cause__ from None
        except Exception as exc:
            # The table or the lock could not be had (or kept): the poll is answered all the same,
            # computed here if it was not yet.
            if not _shared_part_failed(exc):
                raise
            log.warning("stats: shared answers unavailable (%s)", type(exc).__name__)
            return answer if answer is not None else await self._compute(compute)

    async def clear(self) -> None:
        """Forget every shared answer: the next poll of any key is computed again."""
        async with self.sessions() as session:
            await answers_repo.forget_all(session)
            await session.commit()

    async def _compute(self, compute: Callable[[], Awaitable[Answer]]) -> Answer:
        self.computed += 1
        return await compute()


class _ComputeFailed(Exception):
    """Carries the computation's own error past the handler for the shared part's errors."""


def _shared_part_failed(exc: BaseException) -> bool:
    """The database is away, or the lock waited longer than `wait_s` (55P03, lock_not_available)."""
    if database_unavailable(exc):
        return True
    cause = getattr(exc, "orig", None)
    return getattr(cause, "sqlstate", None) == "55P03" or getattr(getattr(cause, "__cause__", None), "sqlstate",
                                                                    None) == "55P03"
