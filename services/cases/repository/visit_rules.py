"""Queries of visit rules and of who on a roster is due a visit."""

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, RosterMember, Visit, VisitRule
from shared.principals import Principal
from shared.repository import live
from shared.scope import under


async def rules_around(session: AsyncSession, station_path: str) -> list[VisitRule]:
    """The defaults, the rules set at the station or above it, and those set in its subtree."""
    stmt = select(VisitRule).where(or_(VisitRule.station_path.is_(None),
                                       func.starts_with(station_path, VisitRule.station_path),
                                       under(VisitRule.station_path, station_path)))
    return list((await session.scalars(stmt)).all())


async def rule_at(session: AsyncSession, station_path: str, population: str) -> VisitRule | None:
    return await session.scalar(select(VisitRule).where(VisitRule.station_path == station_path,
                                                        VisitRule.population == population).with_for_update())


async def members_on(session: AsyncSession, principal: Principal, station_path: str | None, on: date,
                     worker_id: str | None = None) -> list:
    """(membership, name, worker) of the people on a roster on `on`, in the caller's scope."""
    stmt = (select(RosterMember, Beneficiary.name, Beneficiary.worker_id)
            .join(Beneficiary, Beneficiary.id == RosterMember.beneficiary_id)
            .where(RosterMember.id.in_(live(RosterMember, principal).with_only_columns(RosterMember.id)),
                   Beneficiary.deleted_at.is_(None), RosterMember.joined_on <= on,
                   or_(RosterMember.left_on.is_(None), RosterMember.left_on > on)))
    if station_path:
        stmt = stmt.where(under(RosterMember.station_path, station_path))
    if worker_id:
        stmt = stmt.where(Beneficiary.worker_id == worker_id)
    return list((await session.execute(stmt)).all())


async def last_visits(session: AsyncSession, beneficiary_ids: list[str], on: date) -> dict[tuple[str, str], date]:
    """(person, mode) -> the day of their last live visit of that mode on or before `on`."""
    if not beneficiary_ids:
        return {}
    rows = await session.execute(
        select(Visit.beneficiary_id, Visit.mode, func.max(Visit.visited_on))
        .where(Visit.beneficiary_id.in_(beneficiary_ids), Visit.deleted_at.is_(None), Visit.visited_on <= on)
        .group_by(Visit.beneficiary_id, Visit.mode))
    return {(b, m): d for b, m, d in rows}
