"""Answers the counting contract from the daily rollup and the served-day table, never from records.

volunteers.active is a distinct count: per group (period, station) it counts each volunteer
once however many days they served, from models.ServedDay. Grouping by population gives the
same rows under shared.stats.ALL: volunteer metrics have no population breakdown.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.repository import stats as repo
from shared.stats import Metric, StatsAnswer, StatsQuery, StatsRow

SUMMED = (Metric.volunteers_registered, Metric.volunteer_hours, Metric.volunteer_person_times)
METRICS = (*SUMMED, Metric.volunteers_active)


def _own_station(path: str) -> int:
    parts = path.strip("/").split("/")
    return int(parts[-1]) if parts[-1] else 0


def _row(r: dict, metric: str | None = None) -> StatsRow:
    period = r.get("period")
    return StatsRow(metric=metric or r["metric"], population=r.get("population"), station=r.get("station"),
                    period=period.isoformat() if period else None, value=float(r["value"]))


async def answer(session: AsyncSession, query: StatsQuery) -> StatsAnswer:
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m for m in (query.metrics or METRICS) if m in METRICS]
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    common = dict(station_path=query.station_path, own_station_id=_own_station(query.station_path),
                  day_from=query.from_on, day_to=query.to_on, period=period,
                  by_population="population" in query.group_by, by_station="station" in query.group_by)
    rows: list[StatsRow] = []
    summed = [m.value for m in metrics if m in SUMMED]
    if summed:
        rows += [_row(r) for r in await repo.sums(session, metrics=summed, **common) if r["value"]]
    if Metric.volunteers_active in metrics:
        rows += [_row(r, Metric.volunteers_active.value) for r in await repo.distinct_served(session, **common)
                 if r["value"]]
    return StatsAnswer(rows=rows)
