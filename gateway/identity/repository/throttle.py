"""Queries on gateway.login_throttle: failed logins per (account name digest, client address)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import LoginThrottle


async def lock(session: AsyncSession, account: str, address: str) -> None:
    """Attempts on one account from one address take turns, so each failure is counted once."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(literal(f"login:{account}:{address}")))))


async def get(session: AsyncSession, account: str, address: str) -> LoginThrottle | None:
    return await session.get(LoginThrottle, (account, address))


async def record_failure(session: AsyncSession, account: str, address: str, failures: int, at: datetime,
                         retry_at: datetime) -> None:
    stmt = pg_insert(LoginThrottle).values(account=account, address=address, failures=failures,
                                           last_failed_at=at, retry_at=retry_at)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[LoginThrottle.account, LoginThrottle.address],
        set_={"failures": stmt.excluded.failures, "last_failed_at": at, "retry_at": retry_at}))


async def clear(session: AsyncSession, account: str, address: str | None = None) -> None:
    """Forget an account's failures: from one address (a login from it succeeded), or from all."""
    stmt = delete(LoginThrottle).where(LoginThrottle.account == account)
    if address is not None:
        stmt = stmt.where(LoginThrottle.address == address)
    await session.execute(stmt)


async def forget_before(session: AsyncSession, before: datetime, limit: int = 100) -> None:
    """Drop a few rows whose last failure is older than `before`: the table stays about as large as
    a day's failed logins, without a job of its own."""
    old = select(LoginThrottle.account, LoginThrottle.address).where(LoginThrottle.last_failed_at < before) \
        .limit(limit).with_for_update(skip_locked=True)
    await session.execute(delete(LoginThrottle).where(tuple_(LoginThrottle.account, LoginThrottle.address).in_(old)))
