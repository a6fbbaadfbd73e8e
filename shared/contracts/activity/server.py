"""POST /internal/activity, mounted by the services whose records are service given: for each group
asked, the stations where and the workers by whom any was recorded, read from the records themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import Date, Index, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.activity.schemas import ActivityAnswer, ActivityGroup
from shared.contracts.stats.schemas import StatsQuery
from shared.principals import ServicePrincipalDep
from shared.rollup import grouping, own_station
from shared.scope import under
from shared.standby import FigureReadDep
from shared.stats import ALL, DATE_TRUNC, PERIODS


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


async def active(session: AsyncSession, sources: Sequence[Served], query: StatsQuery) -> list[dict]:
    period = next((g for g in query.group_by if g in PERIODS), None)
    by_population = "population" in query.group_by
    found: dict[tuple, tuple[set[int], set[str]]] = defaultdict(lambda: (set(), set()))
    for source in sources:
        model = source.model
        day, worker = getattr(model, source.day), getattr(model, source.worker)
        cols = grouping(model, station_path=query.station_path, own_station_id=own_station(query.station_path),
                        period=None, population=literal(ALL) if by_population else None,
                        by_station="station" in query.group_by)
        if period:
            cols.append(cast(func.date_trunc(DATE_TRUNC[period], day), Date).label("period"))
        stmt = select(*cols, model.station_id.label("at"), worker.label("by")).distinct().where(
            under(model.station_path, query.station_path), model.deleted_at.is_(None),
            day >= query.from_on, day <= query.to_on)
        for row in (await session.execute(stmt)).all():
            r = row._mapping
            key = (r.get("population"), r["period"].isoformat() if period else None, r.get("station"))
            stations, workers = found[key]
            stations.add(r["at"])
            # Accounts only: a tablet records as "device:<id>" (shared.principals), and is nobody's work.
            if r["by"] is not None and str(r["by"]).isdigit():
                workers.add(str(r["by"]))
    return [{"population": k[0], "period": k[1], "station": k[2], "stations": sorted(s), "workers": sorted(w)}
            for k, (s, w) in found.items()]


def internal_activity_router(sources: Sequence[Served]) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/activity", response_model=ActivityAnswer, response_model_exclude_none=True)
    async def activity(query: StatsQuery, _: ServicePrincipalDep, read: FigureReadDep) -> ActivityAnswer:
        """The stations and workers that recorded any service, per group, for the gateway to union."""
        return ActivityAnswer(groups=[ActivityGroup(**g) for g in await active(read.session, sources, query)],
                              as_of=read.as_of)

    return router
