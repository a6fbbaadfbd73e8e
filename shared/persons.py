"""Distinct persons served (人), the service half: the rollup and the per-service sets.

A person served by casework, in a group and at an activity is one person but three
person-times, and the records of those live in two services. The gateway must count them
once without reading either service's tables (ARCHITECTURE.md "Counting contract"), so each
service keeps a `person_day` rollup: one row per (station, day, population, person) served,
with a reference count of the records behind it, adjusted in the record's transaction.
The row's `person` is the person number the cases service gives each beneficiary once
(cases' `beneficiary.person_no`, carried by attendance from the lookup): dense 32-bit
integers, so a set of them is a small compressed bitmap and the gateway never sees an id.

For a stats query a service answers, per group (period, population, station child), a
Roaring bitmap of the group's person numbers (shared.contracts.persons carries them to the
gateway, whose exact union is shared.contracts.persons.union).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from pyroaring import BitMap
from sqlalchemy import BigInteger, Date, Index, Integer, String, delete, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import rollup
from shared.contracts.persons.schemas import PersonsAnswer, PersonsGroup, PersonsQuery, encode
from shared.models import PathType
from shared.scope import sql_name, under
from shared.stats import ALL


def person_day_model(base: type[DeclarativeBase]):
    class PersonDay(base):
        """Who was served on a day at a station, once per population they counted under
        (shared.stats.ALL for everyone); `refs`: the records behind the row."""

        __tablename__ = "person_day"
        station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        day: Mapped[date] = mapped_column(Date, primary_key=True)
        population: Mapped[str] = mapped_column(String(40), primary_key=True)
        person: Mapped[int] = mapped_column(Integer, primary_key=True)
        station_path: Mapped[str] = mapped_column(PathType)
        refs: Mapped[int] = mapped_column(Integer)

        # The first for one station's subtree; the second for a question over many stations (a
        # province's month): that month's rows of one population, index only (docs/performance.md).
        __table_args__ = (Index("ix_person_day_station_path_day", "station_path", "day"),
                          Index("ix_person_day_population_day", "population", "day", "station_path",
                                postgresql_include=["person"]))

    return PersonDay


class PersonDeltas:
    """Signed changes to person_day gathered during a request, written with the records."""

    def __init__(self) -> None:
        self._deltas: dict[tuple, int] = defaultdict(int)

    def add(self, station_id: int, station_path: str, day: date, person: int | None, populations: Iterable[str],
            sign: int) -> None:
        """`person`: the person number; None (an attendance not numbered yet, ops/person_numbers.py)
        counts nowhere, on the way in as on the way out."""
        if person is None:
            return
        for code in (ALL, *populations):
            self._deltas[(station_id, station_path, day, code, person)] += sign

    def _take(self) -> dict[tuple, int]:
        deltas = {k: v for k, v in self._deltas.items() if v}
        self._deltas.clear()
        return deltas

    async def write(self, session: AsyncSession, model) -> None:
        deltas = self._take()
        if not deltas:
            return
        rows = [{"station_id": k[0], "station_path": k[1], "day": k[2], "population": k[3], "person": k[4],
                 "refs": v} for k, v in sorted(deltas.items())]  # sorted: a fixed lock order between writers
        await session.execute(_upsert(model), rows)
        gone = [(k[0], k[2], k[3], k[4]) for k, v in deltas.items() if v < 0]
        if gone:
            # A person no longer served that day (their last record there was removed) leaves the set.
            cols = tuple_(model.station_id, model.day, model.population, model.person)
            await session.execute(delete(model).where(cols.in_(gone), model.refs <= 0))


    async def write_raw(self, conn, model) -> None:
        """`write` on the asyncpg connection of a lean write path (shared.db.raw_connection): the rows
        as arrays, one statement whatever their number."""
        deltas = self._take()
        if not deltas:
            return
        keys = sorted(deltas)  # a fixed lock order between writers, as `write`
        await conn.execute(_raw_sql(model)[0], *(list(c) for c in zip(*keys, strict=True)),
                           [deltas[k] for k in keys])
        gone = [k for k in keys if deltas[k] < 0]
        if gone:
            await conn.execute(_raw_sql(model)[1], [k[0] for k in gone], [k[2] for k in gone],
                               [k[3] for k in gone], [k[4] for k in gone])


@functools.cache
def _raw_sql(model) -> tuple[str, str]:
    """`write_raw`'s upsert and its removal of persons no longer served (the statements of `write`)."""
    name = sql_name(model.__table__)
    upsert = f"""
        INSERT INTO {name} AS p (station_id, station_path, day, population, person, refs)
        SELECT * FROM unnest($1::bigint[], $2::varchar[], $3::date[], $4::varchar[], $5::int[], $6::int[])
        ON CONFLICT (station_id, day, population, person) DO UPDATE SET refs = p.refs + excluded.refs"""
    gone = f"""
        DELETE FROM {name} WHERE (station_id, day, population, person) IN (
            SELECT * FROM unnest($1::bigint[], $2::date[], $3::varchar[], $4::int[])) AND refs <= 0"""
    return upsert, gone


@functools.cache
def _upsert(model):
    """Built and compiled once per table; the rows go as parameters (see shared.rollup._upsert)."""
    stmt = pg_insert(model)
    return stmt.on_conflict_do_update(
        index_elements=[model.station_id, model.day, model.population, model.person],
        set_={"refs": model.refs + stmt.excluded.refs})  # a row's path moves only with its station


async def persons(session: AsyncSession, model, query: PersonsQuery) -> PersonsAnswer:
    """The persons of each group asked for, from person_day alone, as bitmaps."""
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    by_population = "population" in query.group_by
    cols = rollup.grouping(model, station_path=query.station_path,
                           own_station_id=rollup.own_station(query.station_path), period=period,
                           population=model.population if by_population else None,
                           by_station="station" in query.group_by)
    # Not DISTINCT: the bitmap drops repeats for less than PostgreSQL's sort would cost.
    stmt = select(*cols, func.array_agg(model.person).label("members")).where(
        under(model.station_path, query.station_path),
        model.day >= query.from_on, model.day <= query.to_on)
    if not by_population:
        stmt = stmt.where(model.population == ALL)
    stmt = rollup.group_by_position(stmt, len(cols))
    # Ordered, so the same question gets the same answer whatever plan PostgreSQL picks.
    stmt = stmt.order_by(*(literal_column(str(i)) for i in range(1, len(cols) + 1)))
    groups = []
    for row in (await session.execute(stmt)).all():
        r = row._mapping
        if not r["members"]:  # no grouping and nobody served: one row of NULL
            continue
        members = BitMap(r["members"])
        groups.append(PersonsGroup(population=r.get("population"), station=r.get("station"), count=len(members),
                                   period=r["period"].isoformat() if r.get("period") else None,
                                   bitmap=encode(members)))
    return PersonsAnswer(groups=groups)


__all__ = ["PersonDeltas", "person_day_model", "persons"]
