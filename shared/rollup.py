"""The rollups every service keeps for the counting contract (shared.stats).

Per service, built here (`daily_stat_model`):

- `daily_stat`, per (station, day, metric, population): what the service writes (`add`), in the
  transaction of the record change. It is the per-station truth the other tables are checked
  and rebuilt from (`haolin rollups verify|rebuild`).
- `ancestor_stat`, per (node, grain, period, metric, population): the same deltas added to the
  station itself and to every station above it, at two grains, the day ('d') and the month ('m').
  A figure reads only the rows of the node it is asked about (and, for a breakdown, of its
  children), so its cost is periods x metrics x populations whatever the number of stations
  below: a summary over a range reads its full months plus the days at its edges, a day-by-day
  year reads 365 days. docs/rollups.md.
- `ancestor_pending`: the deltas of `ancestor_stat` written since the last fold, in rows of the
  same shape and no key. Readers read both (`live_sql`, `DailyStat.ancestors_live`).

Every change of `daily_stat` reaches the ancestors through a statement trigger
(`ancestor_trigger_sql`, installed by each service's migration): an `add`'s upserts, a station
move's path rewrite (the moved subtree's totals leave the old ancestors and reach the new in the
same statement), a bulk load. The trigger only appends its deltas to `ancestor_pending`, in the
writer's transaction; a background step (`fold`, every second in each service process) moves
them into `ancestor_stat`, summed per row, in one statement. A figure reads the two in one
snapshot, so it is never staler than the last committed record, folded or not.

Why append and fold: every write in a province adds to the province's rows of the day and of the
month. Upserted by the writers themselves, those rows were locked by each writer until it
committed, and 64 concurrent writers queued on them: split 16 ways by writing station (this
module until 2026-12-07), half of the writers' time was still spent waiting on another's row lock
(docs/performance.md, bench/results/s19a-rollups/NOTES.md). Appending locks no shared row; the fold
touches each hot row once a second, whatever the number of writers.

What differs between services is passed in: the metrics a service knows, whether its rows have a
population breakdown, and readers for metrics that are not sums of the rollup (volunteers.active,
a distinct count).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import (ARRAY, JSON, BigInteger, Column, Date, Float, Index, Numeric, String, Table, and_, cast,
                        column, func, literal, literal_column, null, or_, select, text, true, union_all)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import background
from shared.models import PathType
from shared.errors import InvalidInput
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import ALL, DATE_TRUNC, MAX_ROWS, SET_COUNTERS, STOCK_METRICS, Metric, period_bounds, period_start
from shared.scope import sql_name

# A reader of the rollup or of a service's own table, called with the session and the keywords of
# `sums`: `sums` itself returns the contract's rows (shared.stats.StatsRow as dicts); a reader of a
# computed metric (no `metrics` keyword) returns rows of {population?, period?, station?, value}.
Reader = Callable[..., Awaitable[list[dict]]]

log = logging.getLogger(__name__)


def daily_stat_model(base: type[DeclarativeBase]):
    """The service's `daily_stat` model. Its `ancestors` attribute is the `ancestor_stat` model, and
    `ancestors_live` the columns of it and `ancestor_pending` read as one (`live_sql`): what every
    figure reads."""

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

    class AncestorStat(base):
        """`daily_stat` added up at each node of the tree (the station and every station above it),
        per day and per month; written only by `fold` (and a rebuild), never by the app's writes."""

        __tablename__ = "ancestor_stat"
        node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        grain: Mapped[str] = mapped_column(String(1), primary_key=True)  # 'd' day, 'm' month
        metric: Mapped[str] = mapped_column(String(40), primary_key=True)
        period: Mapped[date] = mapped_column(Date, primary_key=True)  # the day, or the month's first day
        population: Mapped[str] = mapped_column(String(40), primary_key=True)
        # The node's parent (0 for a root): a breakdown reads the children's rows by it.
        parent_id: Mapped[int] = mapped_column(BigInteger)
        value: Mapped[Decimal] = mapped_column(Numeric(16, 2))
        # How many changes of daily_stat have reached the row: raised by every write that touches it,
        # whatever its sign, so it only grows (a rebuild keeps it). The distinct sets kept by ancestor
        # are checked against its sum over a node's month (shared/distinct_sets/).
        changes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))

        __table_args__ = (Index("ix_ancestor_stat_parent_id", "parent_id", "grain", "metric", "period"),)

    # No key: the trigger only appends, so writers share no row here; `fold` empties it. Declared for
    # the migrations' check against the models; read and written by SQL text only.
    Table(
        "ancestor_pending", base.metadata,
        *(Column(c.name, c.type, nullable=False) for c in AncestorStat.__table__.columns),
        Index("ix_ancestor_pending_node_id", "node_id", "grain", "metric", "period"))

    DailyStat.ancestors = AncestorStat
    schema = AncestorStat.__table__.schema
    DailyStat.ancestors_live = text(live_sql(schema)).columns(
        *(column(c.name, c.type) for c in AncestorStat.__table__.columns)).subquery("ancestors").c
    _ancestors[DailyStat.__table__] = schema
    return DailyStat


_COLUMNS = "node_id, grain, metric, period, population, parent_id, value, changes"
_KEY = "node_id, grain, metric, period, population"


def live_sql(schema: str) -> str:
    """SELECT of the rollup by ancestor as a reader sees it: the folded rows and the pending ones, one
    row or more per key, to be summed. Read in one statement (one snapshot), a fold committing
    meanwhile is seen whole or not at all: nothing counted twice or missed."""
    return (f"SELECT {_COLUMNS} FROM {schema}.ancestor_stat "
            f"UNION ALL SELECT {_COLUMNS} FROM {schema}.ancestor_pending")


def live_sums_sql(schema: str, where: str = "") -> str:
    """SELECT of the rollup by ancestor summed per row (node_id, grain, metric, period, population,
    parent_id, value, changes), folded and pending together: what the figures add up to. `where`: a
    condition on the rows, before they are summed."""
    return (f"SELECT {_KEY}, max(parent_id) AS parent_id, sum(value) AS value, sum(changes) AS changes "
            f"FROM ({live_sql(schema)}) AS l {where} GROUP BY 1, 2, 3, 4, 5")


def ancestor_rows_sql(deltas: str, min_depth: int = 1) -> str:
    """SELECT of `ancestor_stat` rows (node_id, grain, metric, period, population, parent_id, value,
    changes) summing `deltas`, a SELECT of (station_id, station_path, day, metric, population, value),
    over every node of each row's path at depth >= min_depth. The month rows are summed per station
    before they are spread over the path (a recount of a whole table spreads a month once, not once
    per day). `changes` counts the delta rows behind each row, and every row touched is there, even
    one whose amounts cancel out (a date moved inside a month, a station moved inside a subtree, a
    record edited without a count to change): it is a change all the same (shared/distinct_sets/)."""
    return f"""
        SELECT a.node_id, d.grain, d.metric, d.period, d.population,
               max(a.parent_id) AS parent_id, sum(d.value) AS value, count(*) AS changes
        FROM (SELECT station_id, station_path, 'd' AS grain, day AS period, metric, population, value
              FROM ({deltas}) AS r
              UNION ALL
              SELECT station_id, station_path, 'm', date_trunc('month', day)::date, metric, population, sum(value)
              FROM ({deltas}) AS r GROUP BY 1, 2, 3, 4, 5, 6) AS d
        CROSS JOIN LATERAL (
            SELECT p.ids[i] AS node_id, coalesce(p.ids[i - 1], 0) AS parent_id, i AS depth
            FROM (SELECT string_to_array(btrim(d.station_path, '/'), '/')::bigint[] AS ids) AS p,
                 generate_subscripts(p.ids, 1) AS i) AS a
        WHERE a.depth >= {min_depth}
        GROUP BY 1, 2, 3, 4, 5"""


_DELTAS = "SELECT station_id, station_path, day, metric, population, {sign}value AS value FROM {rows}"


def ancestor_trigger_sql(schema: str) -> list[str]:
    """The function and the three statement triggers that append every change of `schema`.daily_stat
    to `schema`.ancestor_pending (PostgreSQL allows transition tables on one event per trigger). An
    upsert fires the INSERT trigger for its new rows and the UPDATE one for the rows it changed. The
    first statement alone replaces the function of a schema that has the triggers already."""
    inserted = _DELTAS.format(sign="", rows="new_rows")
    deleted = _DELTAS.format(sign="-", rows="old_rows")
    append = f"INSERT INTO {schema}.ancestor_pending ({_COLUMNS}) {{}}"
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}.ancestor_stat_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {append.format(ancestor_rows_sql(inserted))};
            ELSIF TG_OP = 'UPDATE' THEN
                {append.format(ancestor_rows_sql(f"{inserted} UNION ALL {deleted}"))};
            ELSE
                {append.format(ancestor_rows_sql(deleted))};
            END IF;
            RETURN NULL;
        END
        $fn$""",
        *(f"""CREATE TRIGGER daily_stat_ancestors_{event.lower()} AFTER {event} ON {schema}.daily_stat
              REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ancestor_stat_apply()"""
          for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                                ("DELETE", "OLD TABLE AS old_rows"))),
    ]


# Rows of ancestor_pending one fold moves at most: a backlog (a bulk load, a fold loop stopped for a
# while) is folded in several transactions, each short enough not to hold the hot rows for long.
FOLD_BATCH = 50_000


def fold_sql(schema: str, batch: bool = True) -> str:
    """The fold: pending rows deleted and added to `ancestor_stat`, summed per row, in one statement,
    so a reader sees them in one table or the other, never both or neither. `batch`: at most
    FOLD_BATCH rows, skipping those another fold has taken (the background step; its $1 is the
    limit); else every row, waiting for any fold under way (a station move, a rebuild: what they do
    next must find nothing pending). The rows are upserted in key order: two folds at once lock
    shared rows in the same order. A row's parent is left as it is: only a station move changes it.
    Its one row is the number of pending rows taken (PostgreSQL runs both writes of the WITH whole)."""
    taken = (f"WHERE ctid = ANY(ARRAY(SELECT ctid FROM {schema}.ancestor_pending LIMIT $1 FOR UPDATE SKIP LOCKED))"
             if batch else "")
    return f"""
        WITH moved AS (DELETE FROM {schema}.ancestor_pending {taken} RETURNING {_COLUMNS}),
             added AS (INSERT INTO {schema}.ancestor_stat AS a ({_COLUMNS})
                       SELECT {_KEY}, max(parent_id), sum(value), sum(changes) FROM moved
                       GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                       ON CONFLICT ({_KEY}) DO UPDATE SET value = a.value + excluded.value,
                                                          changes = a.changes + excluded.changes)
        SELECT count(*) FROM moved"""


async def fold(conn, schema: str) -> int:
    """Fold what is pending in `schema` on the asyncpg connection `conn`, a batch at a time, each its
    own transaction, until a batch comes back short; the number of pending rows folded. One
    statement a second when nothing is pending."""
    folded = 0
    while True:
        taken = await conn.fetchval(fold_sql(schema), FOLD_BATCH)
        folded += taken
        if taken < FOLD_BATCH:
            return folded


# How often each service process folds: a reader adds what is pending, so this bounds the pending
# rows a figure reads (about a second of writes), not how stale a figure is.
FOLD_EVERY_S = 1.0


async def keep_folding(dsn: str, schema: str, application_name: str, every_s: float = FOLD_EVERY_S) -> None:
    """The background step: `fold` every `every_s` (shared.background), until cancelled. Every process
    of a service runs it: two folds at once take different pending rows (`fold_sql`). A failure is
    logged by its type and tried again next time; meanwhile the figures stay whole, only the pending
    rows grow."""
    await background.every(dsn, f"{application_name}-fold", every_s, lambda conn: fold(conn, schema),
                           background.logged(log, "rollup %s: fold failed (%s); pending rows are read until the "
                                                  "next fold", schema))


# A recount groups millions of rows: enough memory to hash them rather than sort them on disk.
_MEMORY = "SET LOCAL work_mem = '256MB'"


def _depth(path: str) -> int:
    return len([p for p in path.strip("/").split("/") if p])


def rebuild_sql(schema: str, station_path: str | None = None) -> list[str]:
    """Statements that recount `ancestor_stat` from `daily_stat`: every row, or those of the station at
    `station_path` and of every station below it (its ancestors' rows are left: a recount of them
    reads their whole subtree, `rebuild_sql(schema)`). Run in one transaction: a SHARE lock on
    daily_stat holds writes back, and what was pending is folded first, so that no write lands
    between the delete and the recount and nothing pending is counted twice."""
    source = "SELECT station_id, station_path, day, metric, population, value FROM {s}.daily_stat".format(s=schema)
    # Each row's change count is kept across the recount (on a row of no value if the recount has
    # none): a count that went back could come round to a value a kept distinct set was built at.
    kept = f"ancestor_changes_{schema}"
    first = [f"LOCK TABLE {schema}.daily_stat IN SHARE MODE", _MEMORY, fold_sql(schema, batch=False)]
    recount = f"SELECT {_KEY}, parent_id, value, 0 FROM ({{}}) AS r"
    if station_path is None:
        return [*first,
                f"CREATE TEMP TABLE {kept} ON COMMIT DROP AS SELECT {_KEY}, parent_id, changes "
                f"FROM {schema}.ancestor_stat WHERE changes <> 0",
                f"TRUNCATE {schema}.ancestor_stat",
                f"INSERT INTO {schema}.ancestor_stat ({_COLUMNS}) "
                f"{recount.format(ancestor_rows_sql(source))} WHERE value <> 0",
                _changes_back(schema, kept)]
    depth = _depth(station_path)
    source += f" WHERE station_path LIKE '{_checked(station_path)}%'"
    rows = (f"node_id IN (SELECT node_id FROM ({ancestor_rows_sql(source, depth)}) AS n) OR node_id IN "
            f"(SELECT id FROM {schema}.station WHERE path LIKE '{station_path}%') "
            f"OR node_id = {own_station(station_path)}")
    return [*first,
            f"CREATE TEMP TABLE {kept} ON COMMIT DROP AS SELECT {_KEY}, parent_id, changes "
            f"FROM {schema}.ancestor_stat WHERE changes <> 0 AND ({rows})",
            f"DELETE FROM {schema}.ancestor_stat WHERE {rows}",
            f"INSERT INTO {schema}.ancestor_stat ({_COLUMNS}) "
            f"{recount.format(ancestor_rows_sql(source, depth))} WHERE value <> 0",
            _changes_back(schema, kept)]


def _changes_back(schema: str, kept: str) -> str:
    return (f"INSERT INTO {schema}.ancestor_stat AS a ({_COLUMNS}) "
            f"SELECT {_KEY}, parent_id, 0, changes FROM {kept} "
            f"ON CONFLICT ({_KEY}) DO UPDATE SET changes = excluded.changes")


def _checked(path: str) -> str:
    # Paths hold only digits and '/' (shared.scope): anything else is not a path to put in SQL.
    if not path or any(c not in "0123456789/" for c in path):
        raise ValueError(f"not a station path: {path!r}")
    return path


def drift_sql(schema: str, one_metric: bool = False) -> str:
    """SELECT of the (node_id, grain, metric, period, population, kept, counted) where the rollup by
    ancestor (folded and pending, summed) differs from the recount from `daily_stat`; one_metric: of
    the metric given as bind parameter $1 only."""
    where = "WHERE metric = $1" if one_metric else ""
    source = f"SELECT station_id, station_path, day, metric, population, value FROM {schema}.daily_stat {where}"
    return f"""
        WITH kept AS ({live_sums_sql(schema, where)}),
             counted AS (SELECT node_id, grain, metric, period, population, value
                         FROM ({ancestor_rows_sql(source)}) AS r)
        SELECT node_id, grain, metric, period, population,
               coalesce(k.value, 0) AS kept, coalesce(c.value, 0) AS counted
        FROM kept AS k FULL JOIN counted AS c USING (node_id, grain, metric, period, population)
        WHERE coalesce(k.value, 0) <> coalesce(c.value, 0)"""


async def station_moved(session: AsyncSession, table, station_id: int, parent_id: int | None) -> None:
    """A station now under `parent_id`: its rows of the rollup by ancestor (of the daily_stat `table`)
    are read as that parent's child. Their values need nothing: the rewrite of daily_stat's paths has
    moved the subtree's totals from the old ancestors to the new (the trigger), and the moved
    station's own totals are what they were. What is pending is folded first (waiting for a fold
    under way), so the station's rows are all in ancestor_stat when their parent is set."""
    schema = _ancestors.get(table)
    if schema is None:
        return
    await session.execute(text(fold_sql(schema, batch=False)))
    await session.execute(text(f"UPDATE {schema}.ancestor_stat SET parent_id = :parent WHERE node_id = :node"),
                          {"parent": parent_id or 0, "node": station_id})


# daily_stat table -> its schema, for the station replica's moves (shared.contracts.stations).
_ancestors: dict = {}


_COUNTERS = frozenset(m.value for m in SET_COUNTERS)


def _sorted_keys(deltas: dict) -> list[tuple]:
    """The keys to write: those whose amount moves, and, for a station and day whose change moves none
    of the SET_COUNTERS' everyone-rows (a record's worker or person changed, a date moved and back),
    one such row with nothing to add, so that the change still moves the counter the distinct sets are
    checked by (shared/distinct_sets/). In key order: two writers touching the same rows lock them in
    the same order, here and in the ancestors the trigger adds them to."""
    keys = {k for k, v in deltas.items() if v}
    counted = {(k[0], k[2]) for k in keys if k[3] in _COUNTERS and k[4] == ALL}
    for k, v in deltas.items():
        if not v and k[3] in _COUNTERS and k[4] == ALL and (k[0], k[2]) not in counted:
            keys.add(k)
            counted.add((k[0], k[2]))
    return sorted(keys, key=lambda k: (k[0], k[2], k[3], k[4]))


async def add(session: AsyncSession, model, deltas: dict[tuple[int, str, date, str, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric, population) -> amount, merged per key beforehand
    because one INSERT .. ON CONFLICT cannot touch the same row twice."""
    keys = _sorted_keys(deltas)
    if not keys:
        return
    await session.execute(_upsert(model), {
        "station_id": [k[0] for k in keys], "station_path": [k[1] for k in keys], "day": [k[2] for k in keys],
        "metric": [k[3] for k in keys], "population": [k[4] for k in keys], "value": [deltas[k] for k in keys]})


async def add_raw(conn, model, deltas: dict[tuple[int, str, date, str, str], Decimal]) -> None:
    """`add` on the asyncpg connection of a lean write path (shared.db.raw_connection): the same
    statement, prepared once per connection."""
    keys = _sorted_keys(deltas)
    if not keys:
        return
    await conn.execute(_upsert_sql(model, raw=True), [k[0] for k in keys], [k[1] for k in keys],
                       [k[2] for k in keys], [k[3] for k in keys], [k[4] for k in keys], [deltas[k] for k in keys])


_UPSERT_PARAMS = ("station_id", "station_path", "day", "metric", "population", "value")


@functools.cache
def _upsert_sql(model, raw: bool = False) -> str:
    """The rollup's upsert, its rows given as arrays: one execution per write, so the ancestors'
    trigger fires once per write, not once per row. `raw`: with asyncpg's $n parameters, else
    SQLAlchemy's :names."""
    p = {name: (f"${i + 1}" if raw else f":{name}") for i, name in enumerate(_UPSERT_PARAMS)}
    return f"""
        INSERT INTO {sql_name(model.__table__)} AS d (station_id, station_path, day, metric, population, value)
        SELECT * FROM unnest(CAST({p["station_id"]} AS bigint[]), CAST({p["station_path"]} AS varchar[]),
                             CAST({p["day"]} AS date[]), CAST({p["metric"]} AS varchar[]),
                             CAST({p["population"]} AS varchar[]), CAST({p["value"]} AS numeric[]))
        ON CONFLICT (station_id, day, metric, population)
        -- The row's path is left as it is: only a station move (shared.stations) rewrites paths.
        DO UPDATE SET value = d.value + excluded.value"""


@functools.cache
def _upsert(model):
    """One statement per table, built and compiled once (not once per write with the rows inlined: each
    record write paid that, bench/README.md, docs/performance.md)."""
    return text(_upsert_sql(model))


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


def period_table(from_on: date, to_on: date, period: str | None):
    """The periods of a question as a table `bucket (period, first, last)` (shared.stats.period_bounds), for
    figures read from a service's own rows by date range. Three array parameters to unnest: the statement
    is the same whatever the periods, so SQLAlchemy compiles it once and asyncpg prepares it once. A
    VALUES list has no cache key: every request compiled its statement anew (about a tenth of the
    projects service's and the gateway's CPU per province summary, py-spy, docs/performance.md)."""
    bounds = period_bounds(from_on, to_on, period)
    periods, firsts, lasts = (list(c) for c in zip(*bounds, strict=True))
    return func.unnest(literal(periods, ARRAY(Date)), literal(firsts, ARRAY(Date)), literal(lasts, ARRAY(Date))) \
        .table_valued(column("period", Date), column("first", Date), column("last", Date)) \
        .render_derived(name="bucket")


def group_by_position(stmt, count: int):
    # By position: the grouped expressions carry bind parameters that PostgreSQL would not match up.
    return stmt.group_by(*(literal_column(str(i)) for i in range(1, count + 1)))


async def sums(session: AsyncSession, model, *, station_path: str, own_station_id: int, metrics: list[str],
               day_from: date | None, day_to: date, period: str | None, by_population: bool, by_station: bool,
               populations: bool = True, running: bool = False) -> list[dict]:
    """Sum of the rollup over [day_from, day_to] grouped as asked; day_from None = since the beginning.
    Read from `model.ancestors_live` (folded and pending): the rows of the node asked about and, by
    station, of its children.
    populations=False: the service writes only ALL rows, and grouping by population gives them under ALL.
    running=True (with a period and day_from): each period's level at its end, everything before
    day_from included, as a stock is reported; PostgreSQL adds up the running sums.
    At most MAX_ROWS + 1 rows are read: more is a question too large to answer."""
    table = model.ancestors_live
    first = period_start(day_from, period) if running else None
    parts = _parts(None if running else day_from, day_to, period, first)
    wanted_population = by_population and populations
    selects = []
    current = _at_path(model, own_station_id, station_path)
    for grain, lo, hi in parts:
        for branch in _branches(table, own_station_id, by_station):
            where, station, sign = branch
            cols = [table.metric.label("metric"),
                    (table.population if wanted_population else literal(ALL)).label("population"),
                    table.period.label("day"), (sign * table.value).label("value")]
            if station is not None:
                cols.append(station.label("station"))
            stmt = select(*cols).where(where, current, table.grain == grain, table.metric.in_(metrics),
                                       table.period <= hi)
            if lo is not None:
                stmt = stmt.where(table.period >= lo)
            if not wanted_population:
                stmt = stmt.where(table.population == ALL)
            selects.append(stmt)
    read = union_all(*selects).subquery("read")
    cols = [read.c.metric.label("metric")]
    if by_population:
        cols.append(read.c.population.label("population"))
    if period and not running:
        cols.append(cast(func.date_trunc(DATE_TRUNC[period], read.c.day), Date).label("period"))
    if by_station:
        cols.append(read.c.station.label("station"))
    if running:
        # Days before day_from fall in the first period: its level opens with everything before.
        cols.append(cast(func.greatest(func.date_trunc(DATE_TRUNC[period], read.c.day),
                                       cast(literal(first), Date)), Date).label("period"))
    stmt = group_by_position(select(*cols, func.sum(read.c.value).label("value")), len(cols))
    if running:
        stmt = _levels(stmt.cte("moves"), [c.name for c in cols[:-1]], period, day_from, day_to)
    else:
        stmt = stmt.having(func.sum(read.c.value) != 0)
    return await _as_rows(session, stmt)


def _at_path(model, own: int, station_path: str):
    """SQL: the node is where the question says. Rows are kept by station id, and a path asked for is
    a subtree: a station's old path after a move (a token from before it) holds nothing any more, as
    the records' paths say. A station the replica does not know is taken at its word."""
    station = model.__table__.metadata.tables.get(f"{model.__table__.schema}.station")
    if station is None or not own:
        return true()
    path = select(station.c.path).where(station.c.id == own).scalar_subquery()
    return func.coalesce(path, station_path) == station_path


def _branches(table, own: int, by_station: bool) -> list[tuple]:
    """(rows, station column, sign) of a read of node `own` (0: the whole tree, "/"). By station, each
    child counts its own rows, and the node itself what is left of its total once its children's are
    taken away: the records filed at the node itself, as in the per-station rows."""
    node = table.node_id == own if own else table.parent_id == 0
    if not by_station:
        return [(node, None, 1)]
    branches = [(or_(table.node_id == own, table.parent_id == own), table.node_id, 1)]
    if own:
        branches.append((table.parent_id == own, literal(own, BigInteger), -1))
    return branches


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _parts(lo: date | None, hi: date, period: str | None, first: date | None) -> list[tuple[str, date | None, date]]:
    """The (grain, first period, last period) ranges of rows that add up to the days [lo, hi] (lo None:
    from the beginning): the full months by their month rows, the days at the edges by their day rows.
    A month row serves only where every day of the month falls in one group: always for months,
    quarters, years and no period; for days and weeks, only in a running sum before `first`, the
    first period's start, where every earlier day folds into that first period."""
    months_to = hi
    if period in ("day", "week"):
        if first is None:
            return [("d", lo, hi)]
        months_to = min(hi, first - timedelta(days=1))
    months_from = lo if lo is None or lo.day == 1 else _month_end(lo) + timedelta(days=1)
    last = months_to if _month_end(months_to) == months_to else months_to.replace(day=1) - timedelta(days=1)
    if months_from is not None and months_from > last:
        return [("d", lo, hi)]
    parts = [("m", months_from, last.replace(day=1))]
    if lo is not None and lo < months_from:
        parts.append(("d", lo, months_from - timedelta(days=1)))
    if last < hi:
        parts.append(("d", last + timedelta(days=1), hi))
    return parts


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
                 computed: Mapping[Metric | tuple[Metric, ...], Reader] | None = None) -> list[dict]:
    """The rows of shared.stats.StatsAnswer for `query`. `known`: the metrics this service answers;
    `sums`: its rollup's `sums` bound to its model; `stocks`: metrics that are a level (summed from
    the beginning up to each period's end) rather than a flow; `computed`: metrics read by a reader
    of their own instead of the rollup. A reader keyed by several metrics is called once for those
    of them asked, with `metrics`, and its rows name theirs."""
    known = tuple(known)
    computed = computed or {}
    own = {m for key in computed for m in (key if isinstance(key, tuple) else (key,))}
    # Metrics of other services are not ours to answer: the gateway merges what each knows.
    metrics = [m for m in (query.metrics or known) if m in known]
    period = next((g for g in query.group_by if g not in ("population", "station")), None)
    common = {"station_path": query.station_path, "own_station_id": own_station(query.station_path),
              "by_population": "population" in query.group_by, "by_station": "station" in query.group_by}
    flows = [m.value for m in metrics if m not in stocks and m not in own]
    levels = [m.value for m in metrics if m in stocks and m not in own]
    rows: list[dict] = []
    if flows:
        rows += await sums(session, metrics=flows, day_from=query.from_on, day_to=query.to_on, period=period,
                           **common)
    if levels:
        # Without a period, the level at `to`; with one, at each period's end.
        rows += await sums(session, metrics=levels, day_from=query.from_on if period else None,
                           day_to=query.to_on, period=period, running=period is not None, **common)
    for key, read in computed.items():
        if not isinstance(key, tuple):
            if key in metrics:
                found = await read(session, day_from=query.from_on, day_to=query.to_on, period=period, **common)
                rows += _rows([r for r in found if r["value"]], key.value)
            continue
        asked = [m for m in key if m in metrics]
        if asked:
            found = await read(session, asked, day_from=query.from_on, day_to=query.to_on, period=period, **common)
            for metric in asked:
                rows += _rows([r for r in found if r["metric"] == metric and r["value"]], metric.value)
    if len(rows) > MAX_ROWS:
        raise _too_many_rows()
    return rows
