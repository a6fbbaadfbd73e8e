"""Which of a list of beneficiary ids the caller may see: for other services' attendee checks."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary
from shared.principals import Principal
from shared.scope import live_in


async def visible_beneficiaries(session: AsyncSession, principal: Principal, ids: list[str]) -> list[tuple]:
    """(id, station_id, populations, person_no) of the live beneficiaries among `ids` in the caller's subtree."""
    if not ids:
        return []
    stmt = select(Beneficiary.id, Beneficiary.station_id, Beneficiary.populations, Beneficiary.person_no).where(
        Beneficiary.id.in_(ids), live_in(Beneficiary, principal))
    return [tuple(r) for r in (await session.execute(stmt)).all()]
