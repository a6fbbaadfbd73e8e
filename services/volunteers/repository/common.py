"""Reads of a volunteer's own records; the generic record queries are in shared.repository."""

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


async def get_unscoped(session: AsyncSession, model: type[M], record_id: str, *,
                       for_update: bool = False) -> M | None:
    """A live row by id whatever its station: only for a volunteer reading their own records."""
    stmt = select(model).where(model.id == record_id, model.deleted_at.is_(None))
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)
