"""What roster coverage is read from: memberships of a subtree over a range, and the visits of their people."""

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, RosterMember, Visit
from shared.scope import under


async def members_between(session: AsyncSession, station_path: str, day_from: date, day_to: date) -> list:
    """Memberships of the subtree on a roster at some day of [day_from, day_to], of live people."""
    stmt = (select(RosterMember.beneficiary_id, RosterMember.population, RosterMember.station_path,
                   RosterMember.joined_on, RosterMember.left_on)
            .join(Beneficiary, Beneficiary.id == RosterMember.beneficiary_id)
            .where(under(RosterMember.station_path, station_path), RosterMember.deleted_at.is_(None),
                   Beneficiary.deleted_at.is_(None), RosterMember.joined_on <= day_to,
                   or_(RosterMember.left_on.is_(None), RosterMember.left_on > day_from)))
    return list((await session.execute(stmt)).all())


async def visits_until(session: AsyncSession, beneficiary_ids: list[str], day_to: date) -> dict[str, list]:
    """person -> [(day, mode)] of their live visits up to day_to."""
    found: dict[str, list] = defaultdict(list)
    if beneficiary_ids:
        rows = await session.execute(select(Visit.beneficiary_id, Visit.visited_on, Visit.mode).where(
            Visit.beneficiary_id.in_(beneficiary_ids), Visit.deleted_at.is_(None), Visit.visited_on <= day_to))
        for bid, on, mode in rows:
            found[bid].append((on, mode))
    return found
