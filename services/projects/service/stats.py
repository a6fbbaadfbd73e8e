"""Answers the counting contract from the daily rollup, never from the records themselves."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.repository import stats as repo
from shared.stats import Metric, StatsAnswer, StatsQuery, StatsRow

# All of them flows (summed inside the period); this service keeps no stock metric.
METRICS = (Metric.person_times_group, Metric.person_times_community, Metric.groups, Metric.group_sessions,
           Metric.activities, Metric.resources_linked)


def _own_station(path: str) -> int:
    parts = path.strip("/").split("/")
    return int(parts[-1]) if parts[-1] else 0


async def answer(session: AsyncSession, query: StatsQuery) -> StatsAnswer:
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m.value for m in (query.metrics or METRICS) if m in METRICS]
    if not metrics:
        return StatsAnswer(rows=[])
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    found = await repo.sums(session, station_path=query.station_path, own_station_id=_own_station(query.station_path),
                            metrics=metrics, day_from=query.from_on, day_to=query.to_on, period=period,
                            by_population="population" in query.group_by, by_station="station" in query.group_by)
    return StatsAnswer(rows=[
        StatsRow(metric=r["metric"], population=r.get("population"), station=r.get("station"),
                 period=r["period"].isoformat() if r.get("period") else None, value=float(r["value"]))
        for r in found if r["value"]])
