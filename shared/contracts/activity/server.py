"""POST /internal/activity, mounted by the services whose records are service given: for each group
asked, the stations where and the workers by whom any was recorded, read from the records themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from datetime import date

from fastapi import APIRouter, Request
from pyroaring import BitMap64
from sqlalchemy import ARRAY, BigInteger, Date, Index, any_, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import distinct_sets

from shared.contracts.activity.schemas import ActivityAnswer, ActivityGroup
from shared.contracts.stats.schemas import StatsQuery
from shared.principals import ServicePrincipalDep
from shared.rollup import grouping, own_station
from shared.scope import under
from shared.distinct_sets import STATIONS, WORKERS, Kept, keep_sessions
from shared.standby import FigureReadDep
from shared.stats import ALL, DATE_TRUNC, PERIODS, period_start


@dataclass(frozen=True)
class Served:
    """A table of service given: the column of the day it was given and of the account that recorded it."""

    model: type
    day: str
    worker: str


def served_index(table: str, day: str, worker: str) -> Index:
    """The index `active()` reads a Served table by: a range of days, then the subtree, with the
    station and the worker in the index itself, so a province's month is an index-only scan of that
    month's live rows instead of a scan of the whole table (docs/performance.md, scenario 3a)."""
    return Index(f"ix_{table}_served", day, "station_path", postgresql_include=["station_id", worker],
                 postgresql_where=text("deleted_at IS NULL"))


async def _found(session: AsyncSession, sources: Sequence[Served], station_path: str, from_on: date, to_on: date,
                 period: str | None, by_population: bool, by_station: bool) -> dict[tuple, tuple[set[int], set[str]]]:
    """(population, period, station) -> (stations, workers) of each group, read from the records of the subtree."""
    found: dict[tuple, tuple[set[int], set[str]]] = defaultdict(lambda: (set(), set()))
    for source in sources:
        model = source.model
        day, worker = getattr(model, source.day), getattr(model, source.worker)
        cols = grouping(model, station_path=station_path, own_station_id=own_station(station_path),
                        period=None, population=literal(ALL) if by_population else None, by_station=by_station)
        if period:
            cols.append(cast(func.date_trunc(DATE_TRUNC[period], day), Date).label("period"))
        stmt = select(*cols, model.station_id.label("at"), worker.label("by")).distinct().where(
            under(model.station_path, station_path), model.deleted_at.is_(None), day >= from_on, day <= to_on)
        for row in (await session.execute(stmt)).all():
            r = row._mapping
            key = (r.get("population"), r["period"] if period else None, r.get("station"))
            stations, workers = found[key]
            stations.add(r["at"])
            if (account := _account(r["by"])) is not None:
                workers.add(account)
    return found


async def active(session: AsyncSession, sources: Sequence[Served], query: StatsQuery, kept: Kept | None = None,
                 keep: async_sessionmaker[AsyncSession] | None = None) -> list[dict]:
    """The stations and workers of each group: from the sets kept by ancestor and month
    (shared.distinct_sets; `kept`, stored through `keep`) for the whole months of the range where they
    can answer, and from the records for the rest."""
    period = next((g for g in query.group_by if g in PERIODS), None)
    by_population = "population" in query.group_by
    by_station = "station" in query.group_by
    path, from_on, to_on = query.station_path, query.from_on, query.to_on
    if kept is None or not distinct_sets.usable(query.group_by, path, from_on, to_on):
        return _answer(await _found(session, sources, path, from_on, to_on, period, by_population, by_station))

    async def own(s: AsyncSession, stations: list[int], first: date, last: date) -> dict[int, distinct_sets.MonthSets]:
        """Whether each of `stations` recorded any service itself, and who recorded it."""
        found: dict[int, distinct_sets.MonthSets] = {}
        for source in sources:
            model = source.model
            day, worker = getattr(model, source.day), getattr(model, source.worker)
            at = model.station_id == any_(literal(stations, ARRAY(BigInteger)))
            for station, by in (await s.execute(select(model.station_id, worker).distinct().where(
                    at, model.deleted_at.is_(None), day >= first, day <= last))).all():
                sets = found.setdefault(station, {STATIONS: {ALL: BitMap64([station])}, WORKERS: {ALL: BitMap64()}})
                if (account := _account(by)) is not None:
                    # Account ids are numbers (a tablet's "device:<id>" is nobody), kept as such.
                    sets[WORKERS][ALL].add(int(account))
        return found

    async def scan(s: AsyncSession, first: date, last: date, _: bool) -> dict[date, distinct_sets.MonthSets]:
        """The stations and workers of the node's whole subtree, by month."""
        found = await _found(s, sources, path, first, last, "month", False, False)
        return {month: {STATIONS: {ALL: BitMap64(stations)}, WORKERS: {ALL: BitMap64(int(w) for w in workers)}}
                for (_, month, _), (stations, workers) in found.items()}

    async def grouped(s: AsyncSession, at: str, first: date, last: date) -> dict[int, distinct_sets.MonthSets]:
        """The stations and workers under each child of the station at `at`, and at the station itself."""
        found = await _found(s, sources, at, first, last, None, False, True)
        return {station: {STATIONS: {ALL: BitMap64(stations)}, WORKERS: {ALL: BitMap64(int(w) for w in workers)}}
                for (_, _, station), (stations, workers) in found.items()}

    months, edges = distinct_sets.split(from_on, to_on)
    population = ALL if by_population else None
    acc: dict[tuple, tuple[set[int], set[str]]] = defaultdict(lambda: (set(), set()))
    async with distinct_sets.snapshot(session):
        if by_station:
            got = await distinct_sets.read_children(session, kept, path, months, (STATIONS, WORKERS), own, grouped)
        else:
            got = await distinct_sets.read_months(session, kept, path, months, (STATIONS, WORKERS), own, scan,
                                                  grouped, False)
            got = got and ({m: {None: sets} for m, sets in got[0].items()}, got[1])
        if got is None:
            edges, built = [(from_on, to_on)], None
        else:
            found, built = got
            for month, at in found.items():
                for station, kinds in at.items():
                    stations, workers = acc[(population, period_start(month, period) if period else None, station)]
                    stations.update(kinds[STATIONS][ALL])
                    workers.update(str(w) for w in kinds[WORKERS][ALL])
        for lo, hi in edges:
            for key, (stations, workers) in (await _found(session, sources, path, lo, hi, period, by_population,
                                                          by_station)).items():
                acc[key][0].update(stations)
                acc[key][1].update(workers)
    await distinct_sets.store(keep, kept, built)
    return _answer({k: v for k, v in acc.items() if v[0] or v[1]})


def _account(by) -> str | None:
    """The account that recorded a record: accounts only, a tablet records as "device:<id>"
    (shared.principals) and is nobody's work."""
    return str(by) if by is not None and str(by).isdigit() else None


def _answer(found: dict[tuple, tuple[set[int], set[str]]]) -> list[dict]:
    return [{"population": k[0], "period": k[1].isoformat() if k[1] else None, "station": k[2],
             "stations": sorted(s), "workers": sorted(w)} for k, (s, w) in found.items()]


def internal_activity_router(sources: Sequence[Served], kept: Kept | None = None) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/activity", response_model=ActivityAnswer, response_model_exclude_none=True)
    async def activity(query: StatsQuery, _: ServicePrincipalDep, read: FigureReadDep,
                       request: Request) -> ActivityAnswer:
        """The stations and workers that recorded any service, per group, for the gateway to union."""
        found = await active(read.session, sources, query, kept, keep_sessions(request))
        return ActivityAnswer(groups=[ActivityGroup(**g) for g in found], as_of=read.as_of)

    return router
