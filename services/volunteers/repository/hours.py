"""Service-hours queries: lists, the per-day total, history, what a certificate states."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import ServiceHours, ServiceHoursVersion
from shared.principals import Principal
from shared.repository import live, live_or_own, narrowed


def list_query(principal: Principal, *, own_volunteer_id: str | None, station_path: str | None,
               volunteer_id: str | None, team_id: str | None, status: str | None, from_on: date | None,
               to_on: date | None):
    # A volunteer's own records, wherever they served: organisers' stations may lie outside their scope.
    return narrowed(live_or_own(ServiceHours, principal, "volunteer_id", own_volunteer_id), ServiceHours,
                    station_path=station_path,
                    equal={"volunteer_id": volunteer_id, "team_id": team_id, "status": status},
                    span=("served_on", from_on, to_on))


async def live_records_between(session: AsyncSession, volunteer_id: str, from_on: date, to_on: date,
                               exclude_id: str | None = None) -> list[ServiceHours]:
    """The volunteer's live records starting in [from_on, to_on], at any station."""
    stmt = select(ServiceHours).where(ServiceHours.volunteer_id == volunteer_id, ServiceHours.deleted_at.is_(None),
                                      ServiceHours.served_on >= from_on, ServiceHours.served_on <= to_on)
    if exclude_id:
        stmt = stmt.where(ServiceHours.id != exclude_id)
    return list((await session.scalars(stmt)).all())


async def flagged_between(session: AsyncSession, volunteer_id: str, from_on: date, to_on: date,
                          code: str) -> list[ServiceHours]:
    """The volunteer's live records starting in [from_on, to_on] flagged for review with `code`, locked for a write."""
    stmt = select(ServiceHours).where(
        ServiceHours.volunteer_id == volunteer_id, ServiceHours.deleted_at.is_(None),
        ServiceHours.served_on >= from_on, ServiceHours.served_on <= to_on,
        ServiceHours.review.contains([{"code": code}])).with_for_update()
    return list((await session.scalars(stmt)).all())


async def history(session: AsyncSession, hours_id: str) -> list[ServiceHoursVersion]:
    stmt = select(ServiceHoursVersion).where(ServiceHoursVersion.hours_id == hours_id).order_by(
        ServiceHoursVersion.seq)
    return list((await session.scalars(stmt)).all())


async def certified(session: AsyncSession, principal: Principal, volunteer_id: str, from_on: date, to_on: date,
                    statuses: frozenset[str]) -> list[ServiceHours]:
    """The volunteer's records in the period that the caller's subtree organised, in a fixed order."""
    stmt = (live(ServiceHours, principal)
            .where(ServiceHours.volunteer_id == volunteer_id, ServiceHours.served_on >= from_on,
                   ServiceHours.served_on <= to_on, ServiceHours.status.in_(statuses))
            .order_by(ServiceHours.served_on, ServiceHours.id))
    return list((await session.scalars(stmt)).all())
