"""Attendance queries, of group sessions and activities alike, each rule's ORM statement beside its
lean twin (issue 20).

The lean ones are prepared asyncpg statements on the request's own transaction
(shared.db.raw_connection), one statement per step whatever the number of attendees: the lean path of
adding attendees (service.attendance.add_many, for REST's one attendee and a tablet's push) runs about
eight where the ORM path (service.attendance.add_one) runs about ten per attendee. The rules they serve
are in service/attendance.py; this module holds only statements, each a constant string, so asyncpg
prepares it once per connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Attendance, GroupSession
from shared.principals import Principal
from shared.records import IdInUse
from shared.repository import claim_ids as claim_any
from shared.scope import like_prefix, sql_live_under, sql_name

_TABLE = Attendance.__table__


def _occasion(column: str, occasion_id: str):
    return getattr(Attendance, column) == occasion_id


async def attendees(session: AsyncSession, column: str, occasion_id: str, for_update: bool = False
                    ) -> list[Attendance]:
    """Live named attendees of a session (column "session_id") or an activity ("activity_id")."""
    stmt = (select(Attendance).where(_occasion(column, occasion_id), Attendance.deleted_at.is_(None))
            .order_by(Attendance.created_at, Attendance.id))
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.scalars(stmt)).all())


async def attendees_of_many(session: AsyncSession, column: str, occasion_ids: list[str]) -> list[Attendance]:
    if not occasion_ids:
        return []
    stmt = select(Attendance).where(getattr(Attendance, column).in_(occasion_ids), Attendance.deleted_at.is_(None))
    return list((await session.scalars(stmt.with_for_update())).all())


async def named_count(session: AsyncSession, column: str, occasion_id: str) -> int:
    stmt = select(func.count()).where(_occasion(column, occasion_id), Attendance.deleted_at.is_(None))
    return int(await session.scalar(stmt))


async def tombstone_attendance(session: AsyncSession, column: str, occasion_ids: list[str], user_id: str) -> None:
    if not occasion_ids:
        return
    await session.execute(
        update(Attendance).where(getattr(Attendance, column).in_(occasion_ids), Attendance.deleted_at.is_(None))
        .values(deleted_at=func.now(), updated_by=user_id, version=Attendance.version + 1))


# ---------------------------------------------------------------- the lean path

@dataclass(frozen=True)
class OccasionRow:
    """A session or an activity as adding attendees needs it (service.attendance and counting.Rollup read
    the same names off an ORM GroupSession or Activity)."""

    attendance_column: str  # "session_id" or "activity_id", as the models' class attribute
    id: str
    station_id: int
    station_path: str
    held_on: date

    @classmethod
    def of(cls, occasion) -> OccasionRow:
        """The row of an occasion the ORM has loaded (a REST route's dependency)."""
        return cls(occasion.attendance_column, occasion.id, occasion.station_id, occasion.station_path,
                   occasion.held_on)


MODELS = {m.attendance_column: m for m in (GroupSession, Activity)}

# The occasions attended, live in the caller's subtree, locked as the ORM path's dependencies lock one
# (in id order: two pushes naming the same occasions lock them in the same order). Every writer of an
# occasion's attendance locks the occasion first: what is read of its attendees below holds until commit.
_OCCASIONS = {column: f"SELECT id, station_id, station_path, held_on FROM {sql_name(model.__table__)} "
                      f"WHERE id IN (SELECT unnest($1::text[])) AND {sql_live_under(2)} ORDER BY id FOR UPDATE"
              for column, model in MODELS.items()}

_FIELDS = ("id", "session_id", "activity_id", "beneficiary_id", "populations", "person_no", "created_by")
_READ = ", ".join(f"a.{n}" for n in _FIELDS)
# The live attendees among (column, occasion, beneficiary) triples: what `add_one` finds in the
# occasion's whole list, for the people asked about only.
_ATTENDING = (f"SELECT {_READ} FROM unnest($1::text[], $2::text[], $3::text[]) AS w(col, occasion_id, beneficiary_id) "
              f"JOIN {sql_name(_TABLE)} AS a ON a.beneficiary_id = w.beneficiary_id AND a.deleted_at IS NULL "
              "AND ((w.col = 'session_id' AND a.session_id = w.occasion_id) "
              "OR (w.col = 'activity_id' AND a.activity_id = w.occasion_id))")

# The columns an attendance's create writes; the rest are the table's defaults (timestamps) and the change
# marker its trigger sets, as for an ORM insert.
COLUMNS = ("id", "session_id", "activity_id", "station_id", "station_path", "beneficiary_id", "populations",
           "person_no", "created_by", "updated_by", "version", "deleted_at")
_INSERT = (f"INSERT INTO {sql_name(_TABLE)} ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})")
# One attendee (REST): a concurrent writer that recorded the same person first is answered by the row it
# made, as the ORM path's savepoint does (uq_attendance_*); every writer locks the occasion first, so this
# is the last line, not the rule.
_INSERT_ONE = f"{_INSERT} ON CONFLICT DO NOTHING RETURNING {', '.join(_FIELDS)}"

# An occasion's named attendees and version moved by those added: the version once per attendee, as the
# ORM path's `_changed` moves it once per added attendee.
_TOUCH = {column: f"UPDATE {sql_name(model.__table__)} AS o SET named_count = o.named_count + u.n, "
                  "version = o.version + u.n, updated_by = $3, updated_at = now() "
                  "FROM unnest($1::text[], $2::int[]) AS u(id, n) WHERE o.id = u.id"
          for column, model in MODELS.items()}


async def lock_occasions(conn: asyncpg.Connection, principal: Principal,
                         wanted: list[tuple[str, str]]) -> dict[tuple[str, str], OccasionRow]:
    """The live occasions among `wanted` ((column, id) pairs) in the principal's subtree, locked until the
    transaction ends, by (column, id)."""
    out = {}
    for column, sql in _OCCASIONS.items():
        ids = sorted({i for c, i in wanted if c == column})
        if ids:
            for r in await conn.fetch(sql, ids, like_prefix(principal.station_path)):
                out[(column, r["id"])] = OccasionRow(column, **r)
    return out


async def attending(conn: asyncpg.Connection, triples: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict]:
    """The live attendees among (column, occasion id, beneficiary id) triples, by triple."""
    if not triples:
        return {}
    rows = await conn.fetch(_ATTENDING, *(list(c) for c in zip(*triples, strict=True)))
    return {("session_id" if r["session_id"] else "activity_id", r["session_id"] or r["activity_id"],
             r["beneficiary_id"]): dict(r) for r in rows}


async def claim_ids(conn: asyncpg.Connection, record_ids: list[str]) -> set[str]:
    """Hold the client ids (shared.repository.get_any's locks) and answer those some row has already."""
    return set(await claim_any(conn, _TABLE, record_ids))


def _params(values: dict) -> tuple:
    return tuple(values.get(n) for n in COLUMNS)


async def insert_one(conn: asyncpg.Connection, values: dict) -> dict | None:
    """One attendance, answered as read; None when a concurrent writer recorded the same person first."""
    try:
        row = await conn.fetchrow(_INSERT_ONE, *_params(values))
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None
    return None if row is None else dict(row)


async def insert_many(conn: asyncpg.Connection, rows: list[dict]) -> None:
    """Attendances in one pipelined round trip (asyncpg's executemany)."""
    try:
        await conn.executemany(_INSERT, [_params(v) for v in rows])
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None


async def touch_occasions(conn: asyncpg.Connection, user_id: str | None, added: dict[tuple[str, str], int]) -> None:
    """Add `added` ((column, occasion id) -> attendees added) to the occasions' named counts and versions."""
    for column, sql in _TOUCH.items():
        ids = sorted(i for c, i in added if c == column)
        if ids:
            await conn.execute(sql, ids, [added[(column, i)] for i in ids], user_id)
