"""Distinct sets kept by ancestor station and month, built when read and checked by a change counter.

Three figures count each member once (persons, stations.active, staff.active_workers), so they cannot
be summed from the rows of shared.rollup; read from the per-station rows, their cost grows with the
subtree (docs/performance.md). So each service that answers them keeps, per (node, month, kind), the
set of the node's whole subtree in that month (`distinct_set`): `everyone`, a portable Roaring bitmap,
and for persons the set of each population (`populations`, `members`, aligned arrays). A set is not
kept by the writes (a member leaves it only when their last record under the node in that month
goes, and every write would have to rewrite the province's sets): it is built by the first reader
that finds it missing or stale, and kept for the next.

Stale is judged by two numbers stored with the set and read again with it, in one snapshot:

- `changes`: the sum of `ancestor_stat.changes` over the node's month rows of the SET_COUNTERS
  metrics (everyone). The rollup's trigger raises it on every row a write touches, whatever the
  sign, and a rebuild keeps it, so it only grows; every change to a set passes through one of those
  rows (shared.rollup._sorted_keys). Equal numbers therefore mean an equal set.
- `tree`: the station replica's highest change number: any change to the tree (a move above all)
  makes every kept set stale, though a move's path rewrite moves `changes` as well.

A reader (`read_months`) asks for the whole months of its range: it reads the counters, the kept
sets and the replica in one REPEATABLE READ snapshot, builds the stale or missing months from the
subtree's rows in that same snapshot (as a read without kept sets does), and answers from them; the
partial months at the range's edges are read from the rows as before. After the snapshot it stores
what it built on the primary, keeping whichever of two concurrent builds has the larger numbers
(an upsert, rows in key order: concurrent readers neither deadlock nor fail). A build stored from a
standby's snapshot is as good as one from the primary's: its numbers are those of that snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyroaring import BitMap, BitMap64
from sqlalchemy import ARRAY, BigInteger, Date, DateTime, LargeBinary, String, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.stats import ALL, PERIODS, SET_COUNTERS

log = logging.getLogger(__name__)

PERSONS, STATIONS, WORKERS = "persons", "stations", "workers"
# Persons are 32-bit person numbers; stations and accounts are ids of the gateway's (bigint).
_BITMAP = {PERSONS: BitMap, STATIONS: BitMap64, WORKERS: BitMap64}


def distinct_set_model(base: type[DeclarativeBase]):
    class DistinctSet(base):
        """The set of one kind of member (persons, stations, workers) of a node's whole subtree in one
        month, as of the counters it was built at; built by readers (shared.distinct_sets)."""

        __tablename__ = "distinct_set"
        node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
        kind: Mapped[str] = mapped_column(String(16), primary_key=True)
        changes: Mapped[int] = mapped_column(BigInteger)  # ancestor_stat's count when built
        tree: Mapped[int] = mapped_column(BigInteger)  # the station replica's change number when built
        everyone: Mapped[bytes] = mapped_column(LargeBinary)  # portable Roaring serialization
        populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
        members: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary))  # aligned with populations
        built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    return DistinctSet


@dataclass(frozen=True)
class Kept:
    """Where one service keeps its sets and the numbers they are checked by."""

    sets: type  # its distinct_set model
    ancestors: type  # its ancestor_stat model
    station: type  # its station replica model

    @classmethod
    def of(cls, models) -> "Kept | None":
        sets = getattr(models, "DistinctSet", None)
        return None if sets is None else cls(sets, models.DailyStat.ancestors, models.Station)


# A month's sets by kind: {kind: {population (ALL for everyone): bitmap}}.
MonthSets = dict[str, dict[str, BitMap | BitMap64]]
# Builds the sets of `kinds` for every month in [first, last] (whole months), from the rows, in the
# reader's snapshot: {month's first day: MonthSets}.
Builder = Callable[[AsyncSession, date, date], Awaitable[dict[date, MonthSets]]]


def month_end(day: date) -> date:
    """The last day of the month of `day`."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def split(from_on: date, to_on: date) -> tuple[list[date], list[tuple[date, date]]]:
    """The whole months inside [from_on, to_on] (their first days) and the day ranges left at its edges."""
    first = from_on if from_on.day == 1 else month_end(from_on) + timedelta(days=1)
    months, edges = [], []
    day = first
    while month_end(day) <= to_on:
        months.append(day)
        day = month_end(day) + timedelta(days=1)
    if not months:
        return [], [(from_on, to_on)]
    if from_on < first:
        edges.append((from_on, first - timedelta(days=1)))
    if day <= to_on:
        edges.append((day, to_on))
    return months, edges


def usable(group_by: Iterable[str], station_path: str, from_on: date, to_on: date) -> bool:
    """Whether kept sets can answer: a node (not the whole tree), groups a whole month falls in one
    of (no period, month, quarter, year; not by child station), and at least one whole month."""
    group_by = list(group_by)
    period = next((g for g in group_by if g in PERIODS), None)
    return (station_path.strip("/") != "" and "station" not in group_by and period not in ("day", "week")
            and bool(split(from_on, to_on)[0]))


@asynccontextmanager
async def snapshot(session: AsyncSession):
    """One REPEATABLE READ, read-only snapshot on the figure session's connection (an autocommit one:
    each statement would otherwise see its own)."""
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    transaction = driver.transaction(isolation="repeatable_read", readonly=True)
    await transaction.start()
    try:
        yield
    finally:
        await transaction.rollback()  # it wrote nothing


def _runs(months: list[date]) -> list[tuple[date, date]]:
    """Consecutive months as (first day, last day) ranges: one build query each."""
    runs: list[tuple[date, date]] = []
    for m in months:
        if runs and runs[-1][1] + timedelta(days=1) == m:
            runs[-1] = (runs[-1][0], month_end(m))
        else:
            runs.append((m, month_end(m)))
    return runs


@dataclass
class Built:
    """What a reader built, to store once its snapshot is over."""

    node_id: int
    changes: dict[date, int]
    tree: int
    months: dict[date, MonthSets]


async def read_months(session: AsyncSession, kept: Kept, station_path: str, months: list[date],
                      kinds: tuple[str, ...], build: Builder, by_population: bool) -> tuple[dict[date, MonthSets], Built | None] | None:
    """The sets of `kinds` for each of `months` at the node of `station_path`, kept ones where
    current, the others built (`build`); in the caller's snapshot. None when the replica does not
    have the node at that path (a path from before a move: the rows' own paths answer it). Also what
    was built, for `store`. `by_population`: the populations' sets are wanted too."""
    node_id = int(station_path.strip("/").split("/")[-1])
    station = kept.station
    found = (await session.execute(select(
        station.path, select(func.coalesce(func.max(station.change_seq), 0)).scalar_subquery())
        .where(station.id == node_id))).first()
    if found is None or found[0] != station_path:
        return None
    tree = int(found[1])
    a = kept.ancestors
    counted = dict((await session.execute(
        select(a.period, func.sum(a.changes)).where(
            a.node_id == node_id, a.grain == "m", a.metric.in_([m.value for m in SET_COUNTERS]),
            a.population == ALL, a.period >= months[0], a.period <= months[-1])
        .group_by(a.period))).all())
    changes = {m: int(counted.get(m) or 0) for m in months}
    s = kept.sets
    cols = [s.month, s.kind, s.changes, s.tree, s.everyone] + ([s.populations, s.members] if by_population else [])
    rows = (await session.execute(select(*cols).where(
        s.node_id == node_id, s.kind.in_(kinds), s.month >= months[0], s.month <= months[-1]))).all()
    out: dict[date, MonthSets] = {m: {} for m in months}
    for r in rows:
        if r.month not in out or r.changes != changes[r.month] or r.tree != tree:
            continue
        kind = _BITMAP[r.kind]
        sets = {ALL: kind.deserialize(r.everyone)}
        if by_population:
            sets.update((p, kind.deserialize(b)) for p, b in zip(r.populations, r.members, strict=True))
        out[r.month][r.kind] = sets
    stale = [m for m in months if any(k not in out[m] for k in kinds)]
    if not stale:
        return out, None
    made: dict[date, MonthSets] = {}
    for first, last in _runs(stale):
        made.update(await build(session, first, last))
    for m in stale:
        out[m] = {k: made.get(m, {}).get(k) or {ALL: _BITMAP[k]()} for k in kinds}
    return out, Built(node_id, changes, tree, {m: out[m] for m in stale})


async def store(sessions: async_sessionmaker[AsyncSession] | None, kept: Kept, built: Built | None) -> None:
    """Keep what a reader built, on the primary; a failure only costs the next reader a build."""
    if built is None or sessions is None:
        return
    rows = []
    for month, kinds in sorted(built.months.items()):
        for kind, sets in sorted(kinds.items()):
            pops = sorted(p for p in sets if p != ALL and len(sets[p]))
            rows.append({"node_id": built.node_id, "month": month, "kind": kind, "changes": built.changes[month],
                         "tree": built.tree, "everyone": sets.get(ALL, _BITMAP[kind]()).serialize(),
                         "populations": pops, "members": [sets[p].serialize() for p in pops]})
    if not rows:
        return
    s = kept.sets
    stmt = pg_insert(s).values(rows)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[s.node_id, s.month, s.kind],
        set_={"changes": ex.changes, "tree": ex.tree, "everyone": ex.everyone, "populations": ex.populations,
              "members": ex.members, "built_at": func.now()},
        # Both numbers only grow: of two builds the later state wins, whichever is stored last.
        where=and_(s.changes <= ex.changes, s.tree <= ex.tree,
                   (s.changes < ex.changes) | (s.tree < ex.tree)))
    try:
        async with sessions() as session:
            await session.execute(stmt)
    except Exception:  # noqa: BLE001 - the answer is served all the same; the next reader builds again
        log.warning("distinct sets: could not keep the sets built for node %s", built.node_id, exc_info=True)


def keep_sessions(request) -> async_sessionmaker[AsyncSession] | None:
    """The primary's autocommit sessions of the service answering `request`: where built sets are kept
    (each upsert its own transaction), whether the figures were read there or on a standby."""
    db = getattr(request.app.state, "db", None)
    return None if db is None else db.read_sessions


def stale_sql(schema: str) -> str:
    """DELETE of the kept sets whose numbers are no longer current (`haolin rollups rebuild`)."""
    counters = ", ".join(f"'{m.value}'" for m in SET_COUNTERS)
    return f"""
        DELETE FROM {schema}.distinct_set s
        WHERE s.tree <> (SELECT coalesce(max(change_seq), 0) FROM {schema}.station)
           OR s.changes <> (SELECT coalesce(sum(a.changes), 0) FROM {schema}.ancestor_stat a
                            WHERE a.node_id = s.node_id AND a.grain = 'm' AND a.period = s.month
                              AND a.population = '{ALL}' AND a.metric IN ({counters}))"""


def kept_sql(schema: str) -> str:
    """The kept sets that are current (the ones a reader would serve), with the node's path."""
    counters = ", ".join(f"'{m.value}'" for m in SET_COUNTERS)
    return f"""
        SELECT s.node_id, st.path, s.month, s.kind, s.everyone, s.populations, s.members
        FROM {schema}.distinct_set s JOIN {schema}.station st ON st.id = s.node_id
        WHERE s.tree = (SELECT coalesce(max(change_seq), 0) FROM {schema}.station)
          AND s.changes = (SELECT coalesce(sum(a.changes), 0) FROM {schema}.ancestor_stat a
                           WHERE a.node_id = s.node_id AND a.grain = 'm' AND a.period = s.month
                             AND a.population = '{ALL}' AND a.metric IN ({counters}))
        ORDER BY s.node_id, s.month, s.kind"""


def bitmap_of(kind: str, data: bytes) -> BitMap | BitMap64:
    return _BITMAP[kind].deserialize(data)


__all__ = ["Kept", "PERSONS", "STATIONS", "WORKERS", "distinct_set_model", "read_months", "snapshot", "split",
           "stale_sql", "kept_sql", "store", "usable", "bitmap_of", "month_end"]
