"""Queries on gateway.stats_answer: dashboard answers shared by the gateway's workers and replicas."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import StatsAnswer


async def fresh(session: AsyncSession, key: str) -> StatsAnswer | None:
    """The answer for `key` while it is fresh, by the database's clock (the one all processes share)."""
    found = await session.execute(select(StatsAnswer).where(StatsAnswer.key == key,
                                                            StatsAnswer.fresh_until > func.clock_timestamp()))
    return found.scalar_one_or_none()


async def lock(session: AsyncSession, lock_id: int, wait_s: float) -> None:
    """Computations of one key take turns across processes, until the transaction ends; a wait
    longer than `wait_s` raises (lock_timeout), and the caller computes without the others."""
    await session.execute(text(f"SET LOCAL lock_timeout = '{int(wait_s * 1000)}ms'"))
    await session.execute(select(func.pg_advisory_xact_lock(lock_id)))


async def save(session: AsyncSession, key: str, body: bytes, etag: str, keep: timedelta) -> None:
    until = func.clock_timestamp() + keep
    stmt = pg_insert(StatsAnswer).values(key=key, body=body, etag=etag, fresh_until=until)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[StatsAnswer.key], set_={"body": body, "etag": etag, "fresh_until": until}))


async def forget_stale(session: AsyncSession, older_than: timedelta, limit: int = 100) -> None:
    """Drop a few answers that went stale long ago: the table stays about as large as the keys polled
    lately, without a job of its own."""
    old = select(StatsAnswer.key).where(StatsAnswer.fresh_until < func.clock_timestamp() - older_than) \
        .limit(limit).with_for_update(skip_locked=True)
    await session.execute(delete(StatsAnswer).where(StatsAnswer.key.in_(old)))


async def forget_all(session: AsyncSession) -> None:
    await session.execute(delete(StatsAnswer))
