"""What a reader of kept sets does in its snapshot (shared.distinct_sets)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ARRAY, BigInteger, Date, any_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.distinct_sets.model import _BITMAP, _SPLIT, Grouped, Kept, MonthSets, Own, Scan
from shared.stats import ALL, PERIODS, SET_COUNTERS

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
    of (no period, month, quarter, year; by child station or not), and at least one whole month."""
    period = next((g for g in group_by if g in PERIODS), None)
    return (station_path.strip("/") != "" and period not in ("day", "week") and bool(split(from_on, to_on)[0]))


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


@dataclass
class Built:
    """What a reader built, to store once its snapshot is over: the sets of (node, month), with the
    numbers they were built at."""

    tree: int
    changes: dict[tuple[int, date], int]
    sets: dict[tuple[int, date], MonthSets]
    # The (node, month) built without their populations' sets.
    everyone_only: set[tuple[int, date]] = field(default_factory=set)


async def read_months(session: AsyncSession, kept: Kept, station_path: str, months: list[date],
                      kinds: tuple[str, ...], own: Own, scan: Scan, grouped: Grouped,
                      by_population: bool) -> tuple[dict[date, MonthSets], Built | None] | None:
    """The sets of `kinds` for each of `months` at the node of `station_path`, kept ones where
    current, the others built; in the caller's snapshot. None when the replica does not have the node
    at that path (a path from before a move: the rows' own paths answer it). Also what was built, for
    `store`. `by_population`: the populations' sets are wanted too.

    A month never built at the node (or built before the tree last changed, when every set below is
    stale too, or without the populations now asked for) is read from its subtree's rows (`scan`:
    one query for a run of such months, the cost of a read without kept sets) and only the node's
    set is kept; a month built before and stale since is built from the sets of the stations below
    (`_build`), which keeps the sets it builds below too: a month that goes on changing (the current
    one) costs, read after read, scans of ever smaller subtrees, down to the paths written."""
    if (node := await _node(session, kept, station_path)) is None:
        return None
    node_id, tree = node
    changes = await _counts(session, kept, [node_id], months)
    current, present = await _kept(session, kept, [node_id], months, kinds, tree, changes, by_population)
    built = Built(tree, changes, {})
    out = {m: current[(node_id, m)] for m in months if (node_id, m) in current}
    for first, last in _runs([m for m in months if (node_id, m) not in present]):
        scanned = await scan(session, first, last, by_population)
        for month in _months(first, last):
            sets = scanned.get(month, {})
            out[month] = {k: sets.get(k) or {ALL: _BITMAP[k]()} for k in kinds}
            built.sets[(node_id, month)] = out[month]
            if not by_population:
                built.everyone_only.add((node_id, month))
    for month in months:
        if month not in out:
            made = await _build(session, kept, node_id, station_path, month, kinds, own, grouped, built)
            out[month] = made[node_id]
            built.sets.update(((n, month), sets) for n, sets in made.items())
    return out, (built if built.sets else None)


async def _node(session: AsyncSession, kept: Kept, station_path: str) -> tuple[int, int] | None:
    """The node of `station_path` and the tree's change number, or None when the replica does not have
    the node at that path (a path from before a move: the rows' own paths answer it)."""
    node_id = int(station_path.strip("/").split("/")[-1])
    station = kept.station
    found = (await session.execute(select(
        station.path, select(func.coalesce(func.max(station.change_seq), 0)).scalar_subquery())
        .where(station.id == node_id))).first()
    if found is None or found[0] != station_path:
        return None
    return node_id, int(found[1])


async def read_children(session: AsyncSession, kept: Kept, station_path: str, months: list[date],
                        kinds: tuple[str, ...], own: Own, grouped: Grouped,
                        ) -> tuple[dict[date, dict[int, MonthSets]], Built | None] | None:
    """A breakdown's sets for each of `months`: each child's of the node of `station_path` (its
    subtree's), and the node's own records' under the node's id; in the caller's snapshot, with the
    populations'. None as `read_months`. A month with nothing kept for any child is read in one scan
    grouped by child (the node's set and the children's are kept); otherwise each child's kept set is
    taken where current and built from below (`_build`) where stale, and the node's own records are
    read by its key."""
    if (node := await _node(session, kept, station_path)) is None:
        return None
    node_id, tree = node
    station = kept.station
    rows = (await session.execute(select(station.id, station.path).where(station.parent_id == node_id))).all()
    paths = {r.id: r.path for r in rows}
    children = sorted(paths)
    built = Built(tree, await _counts(session, kept, [node_id, *children], months), {})
    current, present = await _kept(session, kept, children, months, kinds, tree, built.changes, True)
    out: dict[date, dict[int, MonthSets]] = {}
    for month in months:
        last = month_end(month)
        if not any((c, month) in present for c in children):
            groups = await grouped(session, station_path, month, last)
            out[month] = {k: _union([sets], kinds) for k, sets in groups.items()}
            built.sets[(node_id, month)] = _union(list(groups.values()), kinds)
            built.sets.update(((c, month), _union([groups.get(c, {})], kinds)) for c in children)
            continue
        sets: dict[int, MonthSets] = {}
        for c in children:
            if (c, month) in current:
                sets[c] = current[(c, month)]
            else:
                made = await _build(session, kept, c, paths[c], month, kinds, own, grouped, built)
                sets[c] = made[c]
                built.sets.update(((n, month), made_sets) for n, made_sets in made.items())
        mine = (await own(session, [node_id], month, last)).get(node_id)
        if mine:
            sets[node_id] = _union([mine], kinds)
        out[month] = sets
    return out, (built if built.sets else None)


def _months(first: date, last: date) -> list[date]:
    months, day = [], first
    while day <= last:
        months.append(day)
        day = month_end(day) + timedelta(days=1)
    return months


def _runs(months: list[date]) -> list[tuple[date, date]]:
    """Consecutive months as (first day, last day) ranges: one query each."""
    runs: list[tuple[date, date]] = []
    for m in months:
        if runs and runs[-1][1] + timedelta(days=1) == m:
            runs[-1] = (runs[-1][0], month_end(m))
        else:
            runs.append((m, month_end(m)))
    return runs


def _ids(ids: list[int]):
    # One array parameter, not one parameter each: the statement is the same (and prepared once) for a
    # node's few children and for the thousands of a province's level.
    return literal(ids, ARRAY(BigInteger))


async def _counts(session: AsyncSession, kept: Kept, nodes: list[int], months: list[date]) -> dict[tuple, int]:
    """(node, month) -> the change count of each (0 where nothing was ever counted)."""
    a = kept.ancestors
    counted = {(n, p): int(c) for n, p, c in (await session.execute(
        select(a.node_id, a.period, func.sum(a.changes)).where(
            a.node_id == any_(_ids(nodes)), a.grain == "m", a.metric.in_([m.value for m in SET_COUNTERS]),
            a.population == ALL, a.period == any_(literal(months, ARRAY(Date))))
        .group_by(a.node_id, a.period))).all()}
    return {(n, m): counted.get((n, m), 0) for n in nodes for m in months}


async def _kept(session: AsyncSession, kept: Kept, nodes: list[int], months: list[date], kinds: tuple[str, ...],
                tree: int, changes: dict[tuple, int],
                with_populations: bool) -> tuple[dict[tuple, MonthSets], set[tuple]]:
    """(node, month) -> its kept sets of every kind in `kinds`, where all of them are current; and every
    (node, month) with a set kept since the tree last changed, current or not. `with_populations`:
    with each population's set; a set kept without them is neither."""
    s = kept.sets
    cols = [s.node_id, s.month, s.kind, s.changes, s.tree, s.everyone]
    if with_populations:
        cols += [s.populations, s.members]
    found: dict[tuple, MonthSets] = defaultdict(dict)
    present = set()
    for r in (await session.execute(select(*cols).where(
            s.node_id == any_(_ids(nodes)), s.month == any_(literal(months, ARRAY(Date))), s.kind.in_(kinds)))).all():
        if r.tree != tree or (with_populations and r.kind in _SPLIT and r.populations is None):
            continue
        present.add((r.node_id, r.month))
        if r.changes != changes.get((r.node_id, r.month)):
            continue
        bitmap = _BITMAP[r.kind]
        sets = {ALL: bitmap.deserialize(r.everyone)}
        if with_populations:
            sets.update((p, bitmap.deserialize(b)) for p, b in zip(r.populations or (), r.members or (), strict=True))
        found[(r.node_id, r.month)][r.kind] = sets
    return {key: sets for key, sets in found.items() if len(sets) == len(kinds)}, present


async def _build(session: AsyncSession, kept: Kept, node_id: int, node_path: str, month: date,
                 kinds: tuple[str, ...], own: Own, grouped: Grouped, built: Built) -> dict[int, MonthSets]:
    """The sets of `node_id` in `month`, and of the stations below it whose kept set is stale, each the
    union of its children's sets and of the records filed at the station itself. Down from the node,
    level by level, only into the children whose set is stale (what was written since the last read:
    a path from the node down to each station written at); then up, each level from the one below.
    A stale station with nothing kept below it is read in one scan of its subtree grouped by child
    (`grouped`), whose sets are kept too: the next build goes a level deeper, never through a whole
    tree at once."""
    station = kept.station
    paths = {node_id: node_path}
    levels, frontier = [[node_id]], [node_id]
    children: dict[int, list[int]] = defaultdict(list)
    current: dict[int, MonthSets] = {}  # kept and current, below the node
    made: dict[int, MonthSets] = {}
    scanned: dict[int, list[MonthSets]] = {}  # stale station -> the groups of its subtree's scan
    while frontier:
        rows = (await session.execute(select(station.id, station.parent_id, station.path)
                                      .where(station.parent_id == any_(_ids(frontier))))).all()
        for r in rows:
            children[r.parent_id].append(r.id)
            paths[r.id] = r.path
        below = [r.id for r in rows]
        if not below:
            break
        built.changes.update(await _counts(session, kept, below, [month]))
        found, present = await _kept(session, kept, below, [month], kinds, built.tree, built.changes, True)
        current.update((n, sets) for (n, _), sets in found.items())
        deeper = []
        for parent in frontier:
            kids = children.get(parent, [])
            if kids and not any((c, month) in present for c in kids):
                groups = await grouped(session, paths[parent], month, month_end(month))
                scanned[parent] = list(groups.values())
                for c in kids:
                    made[c] = _union([groups.get(c, {})], kinds)
            else:
                deeper += [c for c in kids if c not in current]
        frontier = deeper
        if frontier:
            levels.append(frontier)
    owned = await own(session, [n for level in levels for n in level if n not in scanned], month, month_end(month))
    for level in reversed(levels):
        for n in level:
            made[n] = _union(scanned[n] if n in scanned else
                             [owned.get(n, {}), *(made.get(c) or current[c] for c in children.get(n, ()))], kinds)
    return made


def _union(parts: list[MonthSets], kinds: tuple[str, ...]) -> MonthSets:
    sets: MonthSets = {}
    for kind in kinds:
        bitmap = _BITMAP[kind]
        by_population: dict[str, list] = defaultdict(list)
        for part in parts:
            for population, members in part.get(kind, {}).items():
                by_population[population].append(members)
        sets[kind] = {p: bitmap.union(*ms) if len(ms) > 1 else ms[0].copy() for p, ms in by_population.items()}
        sets[kind].setdefault(ALL, bitmap())
    return sets
