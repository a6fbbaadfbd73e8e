"""Service-hours queries: lists, the per-day total, history, what a certificate states; and beside them
the statements of the lean create (issue 20: service.hours.create_many, for REST and a tablet's push),
prepared asyncpg statements on the request's own transaction (shared.db.raw_connection), one per step
whatever the number of records. The rules are in service/hours.py."""

from datetime import date

import asyncpg
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import ServiceHours, ServiceHoursVersion, Volunteer
from shared.principals import Principal
from shared.records import IdInUse
from shared.repository import claim_ids as claim_any
from shared.repository import live, live_or_own, narrowed
from shared.scope import like_prefix, sql_live_under, sql_name

_HOURS = ServiceHours.__table__


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


# ---------------------------------------------------------------- the lean create

# The volunteers the records are of, live in the caller's subtree, locked as the ORM path's get_live(for_update)
# locks one (in id order: two writers naming the same volunteers lock them in the same order), so that the
# 24-hours-a-day check and certified hours do not race another write.
_VOLUNTEERS = (f"SELECT id FROM {sql_name(Volunteer.__table__)} WHERE id IN (SELECT unnest($1::text[])) "
               f"AND {sql_live_under(2)} ORDER BY id FOR UPDATE")
# What `live_records_between` reads, for many volunteers and the days of all their new records at once.
_SHIFTS = (f"SELECT volunteer_id, served_on, ends_on, start_time, end_time, hours FROM {sql_name(_HOURS)} "
           "WHERE volunteer_id IN (SELECT unnest($1::text[])) AND deleted_at IS NULL "
           "AND served_on >= $2 AND served_on <= $3")

# The columns a create writes; the rest are the table's defaults (timestamps, no tombstone, no dispute) and
# the change marker its trigger sets, as for an ORM insert.
COLUMNS = ("id", "volunteer_id", "team_id", "station_id", "station_path", "activity_kind", "activity_ref",
           "activity_title", "served_on", "ends_on", "start_time", "end_time", "hours", "content", "status",
           "create_digest", "created_by", "updated_by", "version", "review")
_INSERT = (f"INSERT INTO {sql_name(_HOURS)} ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})")
_VERSIONS = (f"INSERT INTO {sql_name(ServiceHoursVersion.__table__)} (hours_id, version, action, status, snapshot, by) "
             "VALUES ($1, $2, $3, $4, $5, $6)")


async def lock_volunteers(conn: asyncpg.Connection, principal: Principal, ids: list[str]) -> set[str]:
    """The live volunteers among `ids` in the principal's subtree, locked until the transaction ends."""
    return {r["id"] for r in await conn.fetch(_VOLUNTEERS, sorted(set(ids)), like_prefix(principal.station_path))}


async def claim_ids(conn: asyncpg.Connection, record_ids: list[str]) -> dict[str, asyncpg.Record]:
    """Hold the client ids (shared.repository.get_any's locks) and answer the rows that have them already:
    id -> (create_digest, station_path, deleted_at), what shared.records.replay decides by."""
    return await claim_any(conn, _HOURS, record_ids, "id, create_digest, station_path, deleted_at")


async def shifts_between(conn: asyncpg.Connection, volunteer_ids: list[str], from_on: date,
                         to_on: date) -> list[dict]:
    """The live records of these volunteers starting in [from_on, to_on], at any station."""
    return [dict(r) for r in await conn.fetch(_SHIFTS, sorted(set(volunteer_ids)), from_on, to_on)]


def _json(value):
    # The engine's asyncpg codec takes JSON as text; no flags is SQL NULL (Reviewed's none_as_null).
    return None if value is None else orjson.dumps(value).decode()


async def insert_many(conn: asyncpg.Connection, rows: list[dict], versions: list[tuple]) -> None:
    """Records and their first history entries ((hours_id, version, action, status, snapshot, by)), each in
    one pipelined round trip (asyncpg's executemany)."""
    try:
        await conn.executemany(_INSERT, [tuple(_json(v[n]) if n == "review" else v[n] for n in COLUMNS)
                                         for v in rows])
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None
    await conn.executemany(_VERSIONS, [(*v[:4], _json(v[4]), v[5]) for v in versions])

