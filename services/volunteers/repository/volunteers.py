"""Volunteer, entry and numbering queries."""

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import (Certificate, NumberSequence, ServiceHours, Station, TeamMember,
                                       Volunteer, VolunteerEntry)
from shared.principals import Principal
from shared.repository import live, narrowed


async def linked_to(session: AsyncSession, user_id: str) -> Volunteer | None:
    """The live volunteer record of a login (role volunteer)."""
    stmt = select(Volunteer).where(Volunteer.user_id == user_id, Volunteer.deleted_at.is_(None))
    return await session.scalar(stmt)


async def find_live_by_id_number(session: AsyncSession, id_number_bidx: str,
                                 exclude_id: str | None = None) -> tuple[str, str] | None:
    """(id, station path) of the live volunteer with this ID number anywhere on the platform (the
    uniqueness scope)."""
    stmt = select(Volunteer.id, Volunteer.station_path).where(Volunteer.id_number_bidx == id_number_bidx,
                                                              Volunteer.deleted_at.is_(None))
    if exclude_id:
        stmt = stmt.where(Volunteer.id != exclude_id)
    row = (await session.execute(stmt.limit(1))).first()
    return (row[0], row[1]) if row else None


async def live_by_id_numbers(session: AsyncSession, bidxs: list[str]) -> dict[str, tuple[str, str]]:
    """blind index -> (id, station path) of the live volunteer holding it, for a roster's rows at once."""
    if not bidxs:
        return {}
    stmt = select(Volunteer.id_number_bidx, Volunteer.id, Volunteer.station_path).where(
        Volunteer.id_number_bidx.in_(bidxs), Volunteer.deleted_at.is_(None))
    return {b: (i, p) for b, i, p in (await session.execute(stmt)).all()}


async def station_path(session: AsyncSession, station_id: object) -> str | None:
    """A live station's path in this service's replica."""
    if not isinstance(station_id, int):
        return None
    return await session.scalar(select(Station.path).where(Station.id == station_id, Station.deleted_at.is_(None)))


async def user_linked_elsewhere(session: AsyncSession, user_id: str, volunteer_id: str) -> bool:
    stmt = select(Volunteer.id).where(Volunteer.user_id == user_id, Volunteer.deleted_at.is_(None),
                                      Volunteer.id != volunteer_id)
    return await session.scalar(stmt.limit(1)) is not None


async def next_number(session: AsyncSession, station_id: int, kind: str, year: int) -> int:
    """The next value of a station's yearly counter; the row lock holds until commit, so numbers never repeat."""
    stmt = pg_insert(NumberSequence).values(station_id=station_id, kind=kind, year=year, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[NumberSequence.station_id, NumberSequence.kind,
                                                      NumberSequence.year],
                                      set_={"last": NumberSequence.last + 1}).returning(NumberSequence.last)
    return int(await session.scalar(stmt))


async def has_records(session: AsyncSession, volunteer_id: str) -> bool:
    hours = exists().where(ServiceHours.volunteer_id == volunteer_id, ServiceHours.deleted_at.is_(None))
    certificates = exists().where(Certificate.volunteer_id == volunteer_id, Certificate.deleted_at.is_(None))
    return bool(await session.scalar(select(hours | certificates)))


def list_query(principal: Principal, *, station_path: str | None, q: str | None, status: str | None,
               skill: str | None, id_number_bidx: str | None, team_id: str | None):
    stmt = narrowed(live(Volunteer, principal), Volunteer, station_path=station_path,
                    equal={"status": status, "id_number_bidx": id_number_bidx}, holding={"skills": skill})
    if q:
        stmt = stmt.where(Volunteer.name.contains(q, autoescape=True) | (Volunteer.volunteer_number == q))
    if team_id:
        stmt = stmt.where(Volunteer.id.in_(select(TeamMember.volunteer_id).where(TeamMember.team_id == team_id)))
    return stmt


async def entries(session: AsyncSession, volunteer_id: str) -> list[VolunteerEntry]:
    stmt = (select(VolunteerEntry).where(VolunteerEntry.volunteer_id == volunteer_id,
                                         VolunteerEntry.deleted_at.is_(None))
            .order_by(VolunteerEntry.occurred_on.desc(), VolunteerEntry.id))
    return list((await session.scalars(stmt)).all())


async def entry(session: AsyncSession, volunteer_id: str, entry_id: str) -> VolunteerEntry | None:
    stmt = select(VolunteerEntry).where(VolunteerEntry.id == entry_id, VolunteerEntry.volunteer_id == volunteer_id,
                                        VolunteerEntry.deleted_at.is_(None)).with_for_update()
    return await session.scalar(stmt)
