"""What roster coverage is read from: memberships of a subtree over a range, where their people were (transfers),
and the visits of their people."""

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, RosterMember, Transfer, Visit
from services.cases.schemas.transfers import ACCEPTED
from shared.scope import under


def _moved_out(station_path: str, day_from: date):
    """People transferred out of the subtree after day_from: on its rosters before they left."""
    return select(Transfer.beneficiary_id).where(Transfer.status == ACCEPTED, Transfer.deleted_at.is_(None),
                                                 Transfer.transferred_on > day_from,
                                                 under(Transfer.station_path, station_path))


async def members_between(session: AsyncSession, station_path: str, day_from: date, day_to: date) -> list:
    """Memberships of the subtree on a roster at some day of [day_from, day_to], of live people: those
    there now, and those of people transferred out of it since day_from."""
    stmt = (select(RosterMember.beneficiary_id, RosterMember.population, RosterMember.station_path,
                   RosterMember.joined_on, RosterMember.left_on)
            .join(Beneficiary, Beneficiary.id == RosterMember.beneficiary_id)
            .where(or_(under(RosterMember.station_path, station_path),
                       RosterMember.beneficiary_id.in_(_moved_out(station_path, day_from))),
                   RosterMember.deleted_at.is_(None),
                   Beneficiary.deleted_at.is_(None), RosterMember.joined_on <= day_to,
                   or_(RosterMember.left_on.is_(None), RosterMember.left_on > day_from)))
    return list((await session.execute(stmt)).all())


async def moves_after(session: AsyncSession, beneficiary_ids: list[str], day_from: date) -> dict[str, list]:
    """person -> [(transferred_on, the station path they left)] of their transfers after day_from, in order."""
    found: dict[str, list] = defaultdict(list)
    if beneficiary_ids:
        rows = await session.execute(
            select(Transfer.beneficiary_id, Transfer.transferred_on, Transfer.station_path)
            .where(Transfer.beneficiary_id.in_(beneficiary_ids), Transfer.status == ACCEPTED,
                   Transfer.deleted_at.is_(None), Transfer.transferred_on > day_from)
            .order_by(Transfer.transferred_on, Transfer.decided_at, Transfer.id))
        for bid, on, path in rows:
            found[bid].append((on, path))
    return found


async def visits_until(session: AsyncSession, beneficiary_ids: list[str], day_to: date) -> dict[str, list]:
    """person -> [(day, mode)] of their live visits up to day_to."""
    found: dict[str, list] = defaultdict(list)
    if beneficiary_ids:
        rows = await session.execute(select(Visit.beneficiary_id, Visit.visited_on, Visit.mode).where(
            Visit.beneficiary_id.in_(beneficiary_ids), Visit.deleted_at.is_(None), Visit.visited_on <= day_to))
        for bid, on, mode in rows:
            found[bid].append((on, mode))
    return found
