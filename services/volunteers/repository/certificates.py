"""Certificate queries."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import Certificate, Station
from shared.principals import Principal
from shared.repository import live_or_own, narrowed


async def same_issue(session: AsyncSession, station_id: int, volunteer_id: str, from_on: date, to_on: date,
                     content_hash: str) -> Certificate | None:
    """A live certificate this station issued already with exactly these figures."""
    stmt = select(Certificate).where(
        Certificate.station_id == station_id, Certificate.volunteer_id == volunteer_id,
        Certificate.period_from == from_on, Certificate.period_to == to_on, Certificate.content_hash == content_hash,
        Certificate.deleted_at.is_(None)).order_by(Certificate.created_at).limit(1)
    return await session.scalar(stmt)


async def station_name(session: AsyncSession, station_id: int) -> str | None:
    return await session.scalar(select(Station.name).where(Station.id == station_id))


def list_query(principal: Principal, *, own_volunteer_id: str | None, volunteer_id: str | None):
    return narrowed(live_or_own(Certificate, principal, "volunteer_id", own_volunteer_id), Certificate,
                    equal={"volunteer_id": volunteer_id})
