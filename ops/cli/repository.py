"""The CLI's own reads of the gateway's tables (writes go through gateway.identity's services)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Station, User


def _live():
    return Station.deleted_at.is_(None)


async def station_by_code(session: AsyncSession, code: str) -> Station | None:
    stmt = select(Station).where(Station.code == code, _live()).order_by(Station.id).limit(1)
    return await session.scalar(stmt)


async def live_stations(session: AsyncSession) -> Sequence[Station]:
    """The whole live tree in path order (a province is a few thousand rows)."""
    return (await session.scalars(select(Station).where(_live()).order_by(Station.path))).all()


async def users_by_station(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(User.station_id, func.count()).where(User.disabled_at.is_(None))
                                 .group_by(User.station_id))
    return {station_id: count for station_id, count in rows}
