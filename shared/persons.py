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
from sqlalchemy import (ARRAY, BigInteger, Date, Index, Integer, String, any_, delete, func, literal, literal_column,
                        select, tuple_)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import distinct_sets, rollup
from shared.contracts.persons.schemas import PersonsAnswer, PersonsGroup, PersonsQuery, encode
from shared.models import PathType
from shared.scope import sql_name, under
from shared.distinct_sets import PERSONS, Kept
from shared.stats import ALL, period_start


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


async def _sets(session: AsyncSession, model, station_path: str, from_on: date, to_on: date, period: str | None,
                by_population: bool, by_station: bool) -> list[tuple[str | None, date | None, int | None, BitMap]]:
    """(population, period, station, persons) of each group, read from person_day rows of the subtree."""
    cols = rollup.grouping(model, station_path=station_path, own_station_id=rollup.own_station(station_path),
                           period=period, population=model.population if by_population else None,
                           by_station=by_station)
    # Not DISTINCT: the bitmap drops repeats for less than PostgreSQL's sort would cost.
    stmt = select(*cols, func.array_agg(model.person).label("members")).where(
        under(model.station_path, station_path), model.day >= from_on, model.day <= to_on)
    if not by_population:
        stmt = stmt.where(model.population == ALL)
    stmt = rollup.group_by_position(stmt, len(cols))
    # Ordered, so the same question gets the same answer whatever plan PostgreSQL picks.
    stmt = stmt.order_by(*(literal_column(str(i)) for i in range(1, len(cols) + 1)))
    found = []
    for row in (await session.execute(stmt)).all():
        r = row._mapping
        if not r["members"]:  # no grouping and nobody served: one row of NULL
            continue
        found.append((r.get("population"), r.get("period"), r.get("station"), BitMap(r["members"])))
    return found


async def persons(session: AsyncSession, model, query: PersonsQuery, kept: Kept | None = None,
                  keep: async_sessionmaker[AsyncSession] | None = None) -> PersonsAnswer:
    """The persons of each group asked for, as bitmaps: from the sets kept by ancestor and month
    (shared.distinct_sets; `kept`, stored through `keep`) for the whole months of the range where
    they can answer, and from person_day for the rest."""
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    by_population = "population" in query.group_by
    by_station = "station" in query.group_by
    path, from_on, to_on = query.station_path, query.from_on, query.to_on
    if kept is None or not distinct_sets.usable(query.group_by, path, from_on, to_on):
        found = await _sets(session, model, path, from_on, to_on, period, by_population, by_station)
        return _answer({(p, per, st): m for p, per, st, m in found})

    async def own(s: AsyncSession, stations: list[int], first: date, last: date) -> dict[int, distinct_sets.MonthSets]:
        """Who was served at each of `stations` itself, by population, from person_day's key."""
        found: dict[int, distinct_sets.MonthSets] = defaultdict(lambda: {PERSONS: {}})
        for station, population, members in (await s.execute(
                select(model.station_id, model.population, func.array_agg(model.person))
                .where(model.station_id == any_(literal(stations, ARRAY(BigInteger))), model.day >= first,
                       model.day <= last)
                .group_by(model.station_id, model.population))).all():
            found[station][PERSONS][population] = BitMap(members)
        return found

    async def scan(s: AsyncSession, first: date, last: date, split: bool) -> dict[date, distinct_sets.MonthSets]:
        """Who was served in the node's whole subtree, by month (and population, if `split`)."""
        months: dict[date, distinct_sets.MonthSets] = defaultdict(lambda: {PERSONS: {}})
        for population, month, _, members in await _sets(s, model, path, first, last, "month", split, False):
            months[month][PERSONS][population or ALL] = members
        return months

    async def grouped(s: AsyncSession, at: str, first: date, last: date) -> dict[int, distinct_sets.MonthSets]:
        """Who was served under each child of the station at `at`, and at the station itself, by population."""
        found: dict[int, distinct_sets.MonthSets] = defaultdict(lambda: {PERSONS: {}})
        for population, _, station, members in await _sets(s, model, at, first, last, None, True, True):
            found[station][PERSONS][population] = members
        return found

    months, edges = distinct_sets.split(from_on, to_on)
    acc: dict[tuple, BitMap] = defaultdict(BitMap)
    async with distinct_sets.snapshot(session):
        if by_station:
            got = await distinct_sets.read_children(session, kept, path, months, (PERSONS,), own, grouped)
        else:
            got = await distinct_sets.read_months(session, kept, path, months, (PERSONS,), own, scan, grouped,
                                                  by_population)
            got = got and ({m: {None: sets} for m, sets in got[0].items()}, got[1])
        if got is None:
            edges = [(from_on, to_on)]
            built = None
        else:
            found, built = got
            for month, stations in found.items():
                key = period_start(month, period) if period else None
                for station, kinds in stations.items():
                    for population, members in (kinds[PERSONS].items() if by_population
                                                else [(None, kinds[PERSONS].get(ALL))]):
                        if members:
                            acc[(population, key, station)] |= members
        for lo, hi in edges:
            for population, key, station, members in await _sets(session, model, path, lo, hi, period,
                                                                 by_population, by_station):
                acc[(population, key, station)] |= members
    await distinct_sets.store(keep, kept, built)
    return _answer(acc)


def _answer(groups: dict[tuple, BitMap]) -> PersonsAnswer:
    """Groups keyed (population, period, station), ordered so that the same question gets the same answer."""
    ordered = sorted(groups.items(), key=lambda g: tuple((x is None, x) for x in g[0]))
    return PersonsAnswer(groups=[
        PersonsGroup(population=population, station=station, count=len(members),
                     period=period.isoformat() if period else None, bitmap=encode(members))
        for (population, period, station), members in ordered if members])


__all__ = ["PersonDeltas", "person_day_model", "persons"]
