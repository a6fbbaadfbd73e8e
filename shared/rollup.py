"""The daily rollup every service keeps for the counting contract (shared.stats).

Each service has its own `daily_stat` table (built here by `daily_stat_model`), adjusts it
in the transaction of the record change (`add`) and answers stats queries from it alone
(`answer`, which reads through `sums`). What differs between services is passed in: the
metrics a service knows, whether its rows have a population breakdown, and readers for
metrics that are not sums of the rollup (volunteers.active, a distinct count).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Numeric, String, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import PathType
from shared.stats import ALL, DATE_TRUNC, STOCK_METRICS, Metric, StatsAnswer, StatsQuery, StatsRow, period_start

# A reader of the rollup or of a service's own table: called with the session and the keywords of
# `sums` but `metrics`, it returns rows of {metric?, population?, period?, station?, value}.
Reader = Callable[..., Awaitable[list[dict]]]


def daily_stat_model(base: type[DeclarativeBase]):
    class DailyStat(base):
        """Daily rollup of the counting contract, written in the transaction of the record change."""

        __tablename__ = "daily_stat"
        station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        day: Mapped[date] = mapped_column(Date, primary_key=True)
        metric: Mapped[str] = mapped_column(String(40), primary_key=True)
        population: Mapped[str] = mapped_column(String(40), primary_key=True)
        station_path: Mapped[str] = mapped_column(PathType)
        value: Mapped[Decimal] = mapped_column(Numeric(16, 2))

        __table_args__ = (Index("ix_daily_stat_station_path_day", "station_path", "day"),)

    return DailyStat


async def add(session: AsyncSession, model, deltas: dict[tuple[int, str, date, str, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric, population) -> amount, merged per key beforehand
    because one INSERT .. ON CONFLICT cannot touch the same row twice."""
    rows = [{"station_id": k[0], "station_path": k[1], "day": k[2], "metric": k[3], "population": k[4], "value": v}
            for k, v in deltas.items() if v]
    if not rows:
        return
    await session.execute(_upsert(model), rows)


@functools.cache
def _upsert(model):
    """One statement per table, its rows given as parameters: built and compiled once, not once per
    write with the rows inlined (each record write paid that: bench/README.md, docs/performance.md)."""
    stmt = pg_insert(model)
    return stmt.on_conflict_do_update(
        index_elements=[model.station_id, model.day, model.metric, model.population],
        # The row's path is left as it is: only a station move (shared.stations) rewrites paths.
        set_={"value": model.value + stmt.excluded.value},
    )


def grouping(table, *, station_path: str, own_station_id: int, period: str | None, population,
             by_station: bool) -> list:
    """The grouped columns of a read, in the order population, period, station; `population` is the
    expression to group by population (None: not asked)."""
    cols = []
    if population is not None:
        cols.append(population.label("population"))
    if period:
        cols.append(cast(func.date_trunc(DATE_TRUNC[period], table.day), Date).label("period"))
    if by_station:
        # The child of the queried node under which the row lies; rows of the node itself count as the node.
        child = func.split_part(func.substr(table.station_path, len(station_path) + 1), "/", 1)
        cols.append(func.coalesce(cast(func.nullif(child, ""), BigInteger), own_station_id).label("station"))
    return cols


def group_by_position(stmt, count: int):
    # By position: the grouped expressions carry bind parameters that PostgreSQL would not match up.
    return stmt.group_by(*(literal_column(str(i)) for i in range(1, count + 1)))


async def sums(session: AsyncSession, model, *, station_path: str, own_station_id: int, metrics: list[str],
               day_from: date | None, day_to: date, period: str | None, by_population: bool, by_station: bool,
               populations: bool = True) -> list[dict]:
    """Sum of the rollup over [day_from, day_to] grouped as asked; day_from None = since the beginning.
    populations=False: the service writes only ALL rows, and grouping by population gives them under ALL."""
    if not by_population:
        population = None
    else:
        population = model.population if populations else literal(ALL)
    cols = [model.metric.label("metric"),
            *grouping(model, station_path=station_path, own_station_id=own_station_id, period=period,
                      population=population, by_station=by_station)]
    stmt = select(*cols, func.sum(model.value).label("value")).where(
        model.station_path.startswith(station_path, autoescape=False),
        model.metric.in_(metrics), model.day <= day_to)
    if day_from is not None:
        stmt = stmt.where(model.day >= day_from)
    if not by_population or not populations:
        stmt = stmt.where(model.population == ALL)
    stmt = group_by_position(stmt, len(cols))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


def own_station(path: str) -> int:
    parts = path.strip("/").split("/")
    return int(parts[-1]) if parts[-1] else 0


def _row(r: dict, metric: str | None = None) -> StatsRow:
    period = r.get("period")
    return StatsRow(metric=metric or r["metric"], population=r.get("population"), station=r.get("station"),
                    period=period.isoformat() if period else None, value=float(r["value"]))


async def answer(session: AsyncSession, query: StatsQuery, known: Iterable[Metric], sums: Reader, *,
                 stocks: frozenset[Metric] = STOCK_METRICS,
                 computed: Mapping[Metric, Reader] | None = None) -> StatsAnswer:
    """`known`: the metrics this service answers; `sums`: its rollup's `sums` bound to its model;
    `stocks`: metrics that are a level (summed from the beginning up to each period's end) rather
    than a flow; `computed`: metrics read by a reader of their own instead of the rollup."""
    known = tuple(known)
    computed = computed or {}
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m for m in (query.metrics or known) if m in known]
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    common = {"station_path": query.station_path, "own_station_id": own_station(query.station_path),
              "by_population": "population" in query.group_by, "by_station": "station" in query.group_by}
    flows = [m.value for m in metrics if m not in stocks and m not in computed]
    levels = [m.value for m in metrics if m in stocks and m not in computed]
    rows: list[StatsRow] = []
    if flows:
        found = await sums(session, metrics=flows, day_from=query.from_on, day_to=query.to_on, period=period,
                           **common)
        rows += [_row(r) for r in found if r["value"]]
    if levels and period is None:
        found = await sums(session, metrics=levels, day_from=None, day_to=query.to_on, period=None, **common)
        rows += [_row(r) for r in found if r["value"]]
    elif levels:
        rows += await _stock_by_period(session, query, sums, levels, period, common)
    for metric, read in computed.items():
        if metric in metrics:
            found = await read(session, day_from=query.from_on, day_to=query.to_on, period=period, **common)
            rows += [_row(r, metric.value) for r in found if r["value"]]
    return StatsAnswer(rows=rows)


async def _stock_by_period(session: AsyncSession, query: StatsQuery, sums: Reader, stocks: list[str], period: str,
                           common: dict) -> list[StatsRow]:
    """A stock per period is its level at the period's end (or at `to` for the last one)."""
    opening = await sums(session, metrics=stocks, day_from=None, day_to=query.from_on - timedelta(days=1),
                         period=None, **common)
    moves = await sums(session, metrics=stocks, day_from=query.from_on, day_to=query.to_on, period=period, **common)

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
