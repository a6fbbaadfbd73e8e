"""Answers the counting contract from the daily rollup, never from the records themselves."""

from collections import defaultdict
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.repository import stats as repo
from shared.stats import STOCK_METRICS, Metric, StatsAnswer, StatsQuery, StatsRow, period_start

METRICS = (Metric.person_times_casework, Metric.resources_linked, Metric.cases_new, Metric.cases_closed,
           Metric.cases_reopened, Metric.cases_open, Metric.beneficiaries_registered)


def _own_station(path: str) -> int:
    parts = path.strip("/").split("/")
    return int(parts[-1]) if parts[-1] else 0


def _row(r: dict) -> StatsRow:
    period = r.get("period")
    return StatsRow(metric=r["metric"], population=r.get("population"), station=r.get("station"),
                    period=period.isoformat() if period else None, value=float(r["value"]))


async def answer(session: AsyncSession, query: StatsQuery) -> StatsAnswer:
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m for m in (query.metrics or METRICS) if m in METRICS]
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    common = dict(station_path=query.station_path, own_station_id=_own_station(query.station_path),
                  by_population="population" in query.group_by, by_station="station" in query.group_by)
    flows = [m.value for m in metrics if m not in STOCK_METRICS]
    stocks = [m.value for m in metrics if m in STOCK_METRICS]
    rows: list[StatsRow] = []
    if flows:
        found = await repo.sums(session, metrics=flows, day_from=query.from_on, day_to=query.to_on, period=period,
                                **common)
        rows += [_row(r) for r in found if r["value"]]
    if stocks and period is None:
        found = await repo.sums(session, metrics=stocks, day_from=None, day_to=query.to_on, period=None, **common)
        rows += [_row(r) for r in found if r["value"]]
    elif stocks:
        rows += await _stock_by_period(session, query, stocks, period, common)
    return StatsAnswer(rows=rows)


async def _stock_by_period(session: AsyncSession, query: StatsQuery, stocks: list[str], period: str,
                           common: dict) -> list[StatsRow]:
    """A stock per period is its level at the period's end (or at `to` for the last one)."""
    opening = await repo.sums(session, metrics=stocks, day_from=None, day_to=query.from_on - timedelta(days=1),
                              period=None, **common)
    moves = await repo.sums(session, metrics=stocks, day_from=query.from_on, day_to=query.to_on, period=period,
                            **common)

    def key(r: dict) -> tuple:
        return r["metric"], r.get("population"), r.get("station")

    level = defaultdict(float, {key(r): float(r["value"]) for r in opening})
    by_bucket: dict[tuple, dict] = defaultdict(dict)
    for r in moves:
        by_bucket[key(r)][r["period"]] = float(r["value"])
    buckets = sorted({period_start(query.from_on + timedelta(days=i), period)
                      for i in range((query.to_on - query.from_on).days + 1)})
    rows = []
    for k in sorted(set(level) | set(by_bucket), key=str):
        running = level[k]
        for bucket in buckets:
            running += by_bucket[k].get(bucket, 0.0)
            if running:
                rows.append(StatsRow(metric=k[0], population=k[1], station=k[2], period=bucket.isoformat(),
                                     value=running))
    return rows
