"""The daily rollup (shared.rollup) and the served-day table: adjusted in the record's transaction, read per
stats query; active volunteers from the sets kept by ancestor and month (shared.distinct_sets)."""

import functools
from collections import defaultdict
from datetime import date
from decimal import Decimal

from pyroaring import BitMap
from sqlalchemy import ARRAY, BigInteger, any_, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.volunteers.models import DailyStat, DistinctSet, ServedDay, Station, Volunteer
from shared import distinct_sets, rollup
from shared.distinct_sets import VOLUNTEERS, Kept, MonthSets
from shared.scope import sql_name, under
from shared.stats import ALL, period_start


async def add(session: AsyncSession, deltas: dict[tuple[int, str, date, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric) -> amount; volunteer rows are all of population ALL."""
    await rollup.add(session, DailyStat, {(*k, ALL): v for k, v in deltas.items()})


async def add_raw(conn, deltas: dict[tuple[int, str, date, str], Decimal]) -> None:
    """`add` on a lean write path's asyncpg connection (shared.db.raw_connection)."""
    await rollup.add_raw(conn, DailyStat, {(*k, ALL): v for k, v in deltas.items()})


@functools.cache
def _served_sql(raw: bool) -> str:
    """The served-day upsert, its rows given as arrays, each new row with its volunteer's member number
    (read in the statement: every write path passes through here, none has to carry it). `raw`: with
    asyncpg's $n parameters, else SQLAlchemy's :names."""
    names = ("volunteer_id", "day", "station_id", "station_path", "records")
    p = {n: (f"${i + 1}" if raw else f":{n}") for i, n in enumerate(names)}
    return f"""
        INSERT INTO {sql_name(ServedDay.__table__)} AS s
            (volunteer_id, day, station_id, station_path, records, member_no)
        SELECT u.volunteer_id, u.day, u.station_id, u.station_path, u.records,
               (SELECT v.member_no FROM {sql_name(Volunteer.__table__)} v WHERE v.id = u.volunteer_id)
        FROM unnest(CAST({p["volunteer_id"]} AS text[]), CAST({p["day"]} AS date[]),
                    CAST({p["station_id"]} AS bigint[]), CAST({p["station_path"]} AS text[]),
                    CAST({p["records"]} AS int[])) AS u(volunteer_id, day, station_id, station_path, records)
        -- A row's path moves only with its station (shared.stations).
        ON CONFLICT (volunteer_id, day, station_id) DO UPDATE SET records = s.records + excluded.records"""


@functools.cache
def _served_gone_sql(raw: bool) -> str:
    """The rows whose last counted record went: a volunteer leaves a day only then."""
    p = ("$1", "$2", "$3") if raw else (":volunteer_id", ":day", ":station_id")
    return (f"DELETE FROM {sql_name(ServedDay.__table__)} WHERE (volunteer_id, day, station_id) IN "
            f"(SELECT * FROM unnest(CAST({p[0]} AS text[]), CAST({p[1]} AS date[]), CAST({p[2]} AS bigint[]))) "
            "AND records <= 0")


def _served_rows(deltas: dict[tuple[str, date, int, str], int]) -> tuple[list[tuple], list[list]]:
    keys = sorted(k for k, v in deltas.items() if v)  # a fixed lock order between writers
    return keys, ([list(c) for c in zip(*keys, strict=True)] if keys else [])


async def add_served_raw(conn, deltas: dict[tuple[str, date, int, str], int]) -> None:
    """`add_served` on a lean write path's asyncpg connection: the same statements."""
    keys, columns = _served_rows(deltas)
    if not keys:
        return
    await conn.execute(_served_sql(True), *columns, [deltas[k] for k in keys])
    if any(deltas[k] < 0 for k in keys):
        await conn.execute(_served_gone_sql(True), *columns[:3])


async def add_served(session: AsyncSession, deltas: dict[tuple[str, date, int, str], int]) -> None:
    """deltas: (volunteer_id, day, station_id, station_path) -> change in counted records; rows that
    reach zero are removed, so the table holds only the volunteers who served. Every change here comes
    with a volunteer.hours row of the same station and day (service/counting.py), which moves the
    change count the kept sets are checked by (shared.stats.SET_COUNTERS)."""
    keys, columns = _served_rows(deltas)
    if not keys:
        return
    named = dict(zip(("volunteer_id", "day", "station_id", "station_path"), columns, strict=True))
    await session.execute(text(_served_sql(False)), {**named, "records": [deltas[k] for k in keys]})
    if any(deltas[k] < 0 for k in keys):
        await session.execute(text(_served_gone_sql(False)),
                              {n: named[n] for n in ("volunteer_id", "day", "station_id")})


async def sums(session: AsyncSession, **query) -> list[dict]:
    """Sum of the rollup, grouped as asked; grouping by population gives the rows under ALL."""
    return await rollup.sums(session, DailyStat, populations=False, **query)


# Where the active volunteers are kept by ancestor and month (shared.distinct_sets).
KEPT = Kept(DistinctSet, DailyStat.ancestors_live, Station)


async def _members(session: AsyncSession, station_path: str, day_from: date, day_to: date, period: str | None,
                   by_station: bool) -> dict[tuple, BitMap]:
    """(period, station) -> the member numbers of the volunteers served in each group, from served_day."""
    cols = rollup.grouping(ServedDay, station_path=station_path, own_station_id=rollup.own_station(station_path),
                           period=period, population=None, by_station=by_station)
    stmt = select(*cols, func.array_agg(ServedDay.member_no).label("members")).where(
        under(ServedDay.station_path, station_path), ServedDay.day >= day_from, ServedDay.day <= day_to)
    if cols:
        stmt = rollup.group_by_position(stmt, len(cols))
    found = {}
    for row in (await session.execute(stmt)).all():
        r = row._mapping
        if r["members"]:  # no grouping and nobody served: one row of NULL
            found[(r.get("period"), r.get("station"))] = BitMap(r["members"])
    return found


async def served_members(session: AsyncSession, station_path: str, day_from: date, day_to: date) -> BitMap:
    """The member numbers of the volunteers served in the subtree in [day_from, day_to], from served_day's
    rows (`haolin rollups verify` checks the kept sets against it)."""
    return (await _members(session, station_path, day_from, day_to, None, False)).get((None, None), BitMap())


async def distinct_served(session: AsyncSession, *, station_path: str, own_station_id: int, day_from: date,
                          day_to: date, period: str | None, by_population: bool, by_station: bool,
                          keep: async_sessionmaker[AsyncSession] | None = None) -> list[dict]:
    """Distinct volunteers with a counted record in [day_from, day_to], per group asked: from the sets
    kept by ancestor and month (shared.distinct_sets, stored through `keep`) for the whole months of
    the range where they can answer, and from served_day for the rest."""
    if not distinct_sets.usable([period] if period else [], station_path, day_from, day_to):
        return await _counted(session, station_path, own_station_id, day_from, day_to, period, by_population,
                              by_station)

    async def own(s: AsyncSession, stations: list[int], first: date, last: date) -> dict[int, MonthSets]:
        """Who served at each of `stations` itself."""
        return {station: {VOLUNTEERS: {ALL: BitMap(members)}} for station, members in (await s.execute(
            select(ServedDay.station_id, func.array_agg(ServedDay.member_no))
            .where(ServedDay.station_id == any_(literal(stations, ARRAY(BigInteger))),
                   ServedDay.day >= first, ServedDay.day <= last)
            .group_by(ServedDay.station_id))).all()}

    async def scan(s: AsyncSession, first: date, last: date, _: bool) -> dict[date, MonthSets]:
        """Who served in the node's whole subtree, by month."""
        return {month: {VOLUNTEERS: {ALL: members}}
                for (month, _), members in (await _members(s, station_path, first, last, "month", False)).items()}

    async def grouped(s: AsyncSession, at: str, first: date, last: date) -> dict[int, MonthSets]:
        """Who served under each child of the station at `at`, and at the station itself."""
        return {station: {VOLUNTEERS: {ALL: members}}
                for (_, station), members in (await _members(s, at, first, last, None, True)).items()}

    months, edges = distinct_sets.split(day_from, day_to)
    acc: dict[tuple, BitMap] = defaultdict(BitMap)
    async with distinct_sets.snapshot(session):
        if by_station:
            got = await distinct_sets.read_children(session, KEPT, station_path, months, (VOLUNTEERS,), own, grouped)
        else:
            got = await distinct_sets.read_months(session, KEPT, station_path, months, (VOLUNTEERS,), own, scan,
                                                  grouped, False)
            got = got and ({m: {None: sets} for m, sets in got[0].items()}, got[1])
        built = None
        if got is None:  # a path the replica no longer has: the rows' own paths answer it
            edges = [(day_from, day_to)]
        else:
            found, built = got
            for month, at in found.items():
                key = period_start(month, period) if period else None
                for station, kinds in at.items():
                    acc[(key, station)] |= kinds[VOLUNTEERS][ALL]
        for lo, hi in edges:
            for key, members in (await _members(session, station_path, lo, hi, period, by_station)).items():
                acc[key] |= members
    await distinct_sets.store(keep, KEPT, built)
    extra = {"population": ALL} if by_population else {}
    return [{**extra, "period": period, "station": station, "value": len(members)}
            for (period, station), members in acc.items() if members]


async def _counted(session: AsyncSession, station_path: str, own_station_id: int, day_from: date, day_to: date,
                   period: str | None, by_population: bool, by_station: bool) -> list[dict]:
    """Distinct volunteers per group counted from served_day's rows: by day or week, or the whole tree."""
    cols = rollup.grouping(ServedDay, station_path=station_path, own_station_id=own_station_id, period=period,
                           population=literal(ALL) if by_population else None, by_station=by_station)
    stmt = select(*cols, func.count(func.distinct(ServedDay.member_no)).label("value")).where(
        under(ServedDay.station_path, station_path), ServedDay.day >= day_from, ServedDay.day <= day_to)
    if cols:
        stmt = rollup.group_by_position(stmt, len(cols))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]
