"""Queries on gateway.login_address: login attempts per client address within the last minute."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import LoginAddress


async def lock(session: AsyncSession, address: str) -> datetime:
    """Attempts from one address take turns, whichever worker or replica they reach; answers the
    database's clock after the wait, the one clock all of them share."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(literal(f"login-address:{address}")))))
    return (await session.execute(select(func.clock_timestamp()))).scalar_one()


async def attempts(session: AsyncSession, address: str) -> list[datetime]:
    found = await session.get(LoginAddress, address)
    return list(found.attempts) if found is not None else []


async def save(session: AsyncSession, address: str, attempts: list[datetime]) -> None:
    stmt = pg_insert(LoginAddress).values(address=address, attempts=attempts, last_at=attempts[-1])
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[LoginAddress.address], set_={"attempts": stmt.excluded.attempts, "last_at": attempts[-1]}))


async def forget_before(session: AsyncSession, before: datetime, limit: int = 100) -> None:
    """Drop a few addresses idle since `before`: the table stays about as large as a minute's
    addresses, without a job of its own."""
    old = select(LoginAddress.address).where(LoginAddress.last_at < before).limit(limit) \
        .with_for_update(skip_locked=True)
    await session.execute(delete(LoginAddress).where(LoginAddress.address.in_(old)))
