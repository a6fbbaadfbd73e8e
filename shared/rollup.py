"""The daily rollup every service keeps for the counting contract (shared.stats).

Each service has its own `daily_stat` table (built here by `daily_stat_model`), adjusts it
in the transaction of the record change (`add`) and answers stats queries from it alone
(`answer`, which reads through `sums`). What differs between services is passed in: the
metrics a service knows, whether its rows have a population breakdown, and readers for
metrics that are not sums of the rollup (volunteers.active, a distinct count).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, Date, Float, Index, Numeric, String, and_, cast, func, literal,
                        literal_column, null, select, true)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import PathType
from shared.errors import InvalidInput
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import ALL, DATE_TRUNC, MAX_ROWS, STOCK_METRICS, Metric
from shared.scope import under

# A reader of the rollup or of a service's own table, called with the session and the keywords of
# `sums`: `sums` itself returns the contract's rows (shared.stats.StatsRow as dicts); a reader of a
# computed metric (no `metrics` keyword) returns rows of {population?, period?, station?, value}.
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
               populations: bool = True, running: bool = False) -> list[dict]:
    """Sum of the rollup over [day_from, day_to] grouped as asked; day_from None = since the beginning.
    populations=False: the service writes only ALL rows, and grouping by population gives them under ALL.
    running=True (with a period and day_from): each period's level at its end, everything before
    day_from included, as a stock is reported; PostgreSQL adds up the running sums.
    At most MAX_ROWS + 1 rows are read: more is a question too large to answer."""
    if not by_population:
        population = None
    else:
        population = model.population if populations else literal(ALL)
    groups = grouping(model, station_path=station_path, own_station_id=own_station_id,
                      period=None if running else period, population=population, by_station=by_station)
    cols = [model.metric.label("metric"), *groups]
    if running:
        # Days before day_from fall in the first period: its level opens with everything before.
        first = func.date_trunc(DATE_TRUNC[period], cast(literal(day_from), Date))
        cols.append(cast(func.greatest(func.date_trunc(DATE_TRUNC[period], model.day), first), Date).label("period"))
    stmt = select(*cols, func.sum(model.value).label("value")).where(
        under(model.station_path, station_path),
        model.metric.in_(metrics), model.day <= day_to)
    if day_from is not None and not running:
        stmt = stmt.where(model.day >= day_from)
    if not by_population or not populations:
        stmt = stmt.where(model.population == ALL)
    stmt = group_by_position(stmt, len(cols))
    if running:
        stmt = _levels(stmt.cte("moves"), [c.name for c in cols[:-1]], period, day_from, day_to)
    else:
        stmt = stmt.having(func.sum(model.value) != 0)
    return await _as_rows(session, stmt)


async def _as_rows(session: AsyncSession, stmt) -> list[dict]:
    """The rows of `stmt` as the contract's rows, made by PostgreSQL as JSON (parsed by orjson, in C):
    a hundred thousand rows made one by one in Python would hold the event loop for seconds."""
    found = stmt.limit(MAX_ROWS + 1).subquery("found")
    columns = found.c
    row = func.json_build_object(
        "metric", columns.metric,
        "population", columns.population if "population" in columns else null(),
        "period", columns.period if "period" in columns else null(),
        "station", columns.station if "station" in columns else null(),
        "value", cast(columns.value, Float))
    rows, count = (await session.execute(select(func.json_agg(row, type_=JSON), func.count()).select_from(found))).one()
    if count > MAX_ROWS:
        raise _too_many_rows()
    return rows or []


# generate_series steps, one per period of DATE_TRUNC.
_STEP = {"day": "1 day", "week": "1 week", "month": "1 month", "quarter": "3 months", "year": "1 year"}


def _levels(moves, keys: list[str], period: str, day_from: date, day_to: date):
    """Each group's level at the end of every period from day_from's to day_to's, from its moves per
    period: every group in every period (a level stays while nothing moves), its running sum."""
    groups = select(*(moves.c[k] for k in keys)).distinct().cte("groups")
    periods = select(cast(func.generate_series(
        func.date_trunc(DATE_TRUNC[period], cast(literal(day_from), Date)),
        func.date_trunc(DATE_TRUNC[period], cast(literal(day_to), Date)),
        literal_column(f"interval '{_STEP[period]}'")), Date).label("period")).subquery("periods")
    joined = groups.join(periods, true()).outerjoin(
        moves, and_(*(moves.c[k] == groups.c[k] for k in keys), moves.c.period == periods.c.period))
    level = func.sum(func.coalesce(moves.c.value, 0)).over(partition_by=[groups.c[k] for k in keys],
                                                            order_by=periods.c.period)
    levels = select(*(groups.c[k] for k in keys), periods.c.period, level.label("value")).select_from(joined) \
        .subquery("levels")
    return select(levels).where(levels.c.value != 0)


def own_station(path: str) -> int:
    parts = path.strip("/").split("/")
    return int(parts[-1]) if parts[-1] else 0


def _too_many_rows() -> InvalidInput:
    return InvalidInput.field("group_by", f"The answer would hold more than {MAX_ROWS} rows: ask for fewer "
                                          "periods, stations or populations.", "too_many_rows")


def _rows(found, metric: str) -> list[dict]:
    """A reader's rows as the contract's (shared.stats.StatsRow, as plain dicts)."""
    if len(found) > MAX_ROWS:
        raise _too_many_rows()
    out = []
    for r in found:
        period = r.get("period")
        out.append({"metric": metric, "population": r.get("population"),
                    "period": period.isoformat() if period else None, "station": r.get("station"),
                    "value": float(r["value"])})
    return out


async def answer(session: AsyncSession, query: StatsQuery, known: Iterable[Metric], sums: Reader, *,
                 stocks: frozenset[Metric] = STOCK_METRICS,
                 computed: Mapping[Metric, Reader] | None = None) -> list[dict]:
    """The rows of shared.stats.StatsAnswer for `query`. `known`: the metrics this service answers;
    `sums`: its rollup's `sums` bound to its model; `stocks`: metrics that are a level (summed from
    the beginning up to each period's end) rather than a flow; `computed`: metrics read by a reader
    of their own instead of the rollup."""
    known = tuple(known)
    computed = computed or {}
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m for m in (query.metrics or known) if m in known]
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    common = {"station_path": query.station_path, "own_station_id": own_station(query.station_path),
              "by_population": "population" in query.group_by, "by_station": "station" in query.group_by}
    flows = [m.value for m in metrics if m not in stocks and m not in computed]
    levels = [m.value for m in metrics if m in stocks and m not in computed]
    rows: list[dict] = []
    if flows:
        rows += await sums(session, metrics=flows, day_from=query.from_on, day_to=query.to_on, period=period,
                           **common)
    if levels:
        # Without a period, the level at `to`; with one, at each period's end.
        rows += await sums(session, metrics=levels, day_from=query.from_on if period else None,
                           day_to=query.to_on, period=period, running=period is not None, **common)
    for metric, read in computed.items():
        if metric in metrics:
            found = await read(session, day_from=query.from_on, day_to=query.to_on, period=period, **common)
            rows += _rows([r for r in found if r["value"]], metric.value)
    if len(rows) > MAX_ROWS:
        raise _too_many_rows()
    return rows
