"""Queries on gateway.refresh_token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import RefreshToken


async def insert(session: AsyncSession, *, token_hash: str, family_id: str, user_id: int,
                 expires_at: datetime) -> None:
    session.add(RefreshToken(token_hash=token_hash, family_id=family_id, user_id=user_id, expires_at=expires_at))
    await session.flush()


async def by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    # Locked: two refreshes racing with one token must not both succeed.
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash)
                                .with_for_update())


async def revoke(session: AsyncSession, token_id: int) -> None:
    await session.execute(update(RefreshToken).where(RefreshToken.id == token_id, RefreshToken.revoked_at.is_(None))
                          .values(revoked_at=func.now()).execution_options(synchronize_session=False))


async def revoke_family(session: AsyncSession, family_id: str) -> int:
    result = await session.execute(
        update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now()).execution_options(synchronize_session=False))
    return result.rowcount


async def revoke_user(session: AsyncSession, user_id: int) -> int:
    """Every session of a user: on password change, disable, role or station change."""
    result = await session.execute(
        update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now()).execution_options(synchronize_session=False))
    return result.rowcount
