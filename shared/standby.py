"""Figure reads, and the streaming standby they go to when a service has one.

This module is the one home of the rule which reads a service may send to its standby
(`READ_DATABASE_URL`, `CASES_READ_DATABASE_URL`...: a PostgreSQL hot standby of its primary):

- the aggregates the gateway asks for: the counting contract (/internal/stats), the person sets
  (/internal/persons), the active stations and workers (/internal/activity) and a project's
  casework figures (/internal/project-stats), each read through `FigureReadDep`; and the
  service's own counts for users (/v1/cases/stats..., shared/stats_api.py), answered the same way;
- the sync pull (/internal/sync/pull), on `FigureReads.engine`. Its consistent cut holds on a hot
  standby as on the primary: the pull reads in one REPEATABLE READ snapshot whose cursor is
  `pg_snapshot_xmin(pg_current_snapshot())`, and a standby builds its snapshots from the
  transactions the primary's WAL says are running, so every xid below that xmin has ended at the
  point replayed, and a transaction that commits on the primary later (or is replayed later) has
  an xid at or above the cursor: served by a later pull, never skipped. Nothing in a pull assigns
  an xid (pg_current_xact_id() fails during recovery); tests/reliability/test_standby.py shows it.

Everything else stays on the primary: reads of records and lists (a record just written must
read back at once, with the ETag an If-Match is checked against), a push's conflict check (it must
see the latest write) and every write.

A figure read on a standby is as of when the standby had replayed up to (`FigureReads.as_of`):
the primary's WAL position is read first; if the standby has replayed that far, everything
committed before that moment is visible and the figures are as of then; if not, they are as of the
last commit it replayed. docs/operations.md, "Read replicas for figures", says how stale that can be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import Database, database_unavailable, make_engine

# On the standby, in one statement: whether it has replayed up to the primary's position `lsn`
# (read just before; NULL when the primary could not be asked), and the latest moment its data
# is known to include: the last commit it replayed, or its last restart point when it has
# replayed none since it started. A server that is not in recovery (the primary itself, or a
# promoted standby) is current. (The position travels as text: asyncpg's pg_lsn codec wants a number.)
_REPLAYED = text("""
SELECT NOT pg_is_in_recovery()
           OR (pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn)) IS TRUE AS caught_up,
       GREATEST(pg_last_xact_replay_timestamp(), (pg_control_checkpoint()).checkpoint_time) AS replayed_at
""")


@dataclass(eq=False)
class FigureReads:
    """Where a service's figure reads go: its standby, or (no READ_DATABASE_URL) its primary."""

    # Autocommit sessions for the aggregates; `engine` for the sync pull's own snapshot.
    sessions: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    # The primary's read pool, asked for its WAL position when the reads go to a standby.
    primary: asyncpg.Pool | None = None
    standby: AsyncEngine | None = None

    @classmethod
    def open(cls, db: Database, read_url: str | None, settings, application_name: str) -> "FigureReads":
        if not read_url:
            return cls(sessions=db.read_sessions, engine=db.engine)
        engine = make_engine(settings, f"{application_name}-figures", url=read_url)
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(sessions=async_sessionmaker(reader, expire_on_commit=False, autoflush=False), engine=engine,
                   primary=db.read_pool, standby=engine)

    async def as_of(self) -> datetime:
        """The moment the figures read next are at least as recent as (UTC). Read before the
        figures: whatever the standby replays meanwhile only makes them more recent."""
        asked = datetime.now(UTC)
        if self.standby is None:
            return asked
        lsn = None
        try:
            lsn = await self.primary.fetchval("SELECT pg_current_wal_lsn()::text")
        except Exception as exc:
            # The primary is down: the standby's figures are still served, as of what it replayed.
            if not database_unavailable(exc):
                raise
        async with self.standby.connect() as conn:
            caught_up, replayed_at = (await conn.execute(_REPLAYED, {"lsn": lsn})).one()
        if caught_up:
            return asked
        # Never NULL: a standby always has a restart point, whose time GREATEST keeps over a NULL.
        return min(replayed_at, asked)

    async def dispose(self) -> None:
        if self.standby is not None:
            await self.standby.dispose()


@dataclass(frozen=True)
class FigureRead:
    """One figure request's session, on the standby or the primary, and the moment its figures are as of."""

    session: AsyncSession
    as_of: datetime


async def figure_read(request: Request) -> AsyncIterator[FigureRead]:
    reads: FigureReads = request.app.state.figures
    as_of = await reads.as_of()
    async with reads.sessions() as session:
        yield FigureRead(session, as_of)


FigureReadDep = Annotated[FigureRead, Depends(figure_read)]
