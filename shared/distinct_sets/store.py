"""Keeping what a reader built, and the SQL `haolin rollups` checks kept sets by (shared.distinct_sets)."""

from __future__ import annotations

import functools
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.distinct_sets.model import _BITMAP, _SPLIT, Kept
from shared.distinct_sets.read import Built
from shared.rollup import live_sql
from shared.scope import sql_name
from shared.stats import ALL, SET_COUNTERS

log = logging.getLogger(__name__)


async def store(sessions: async_sessionmaker[AsyncSession] | None, kept: Kept, built: Built | None) -> None:
    """Keep what a reader built, on the primary; a failure only costs the next reader a build."""
    if built is None or sessions is None:
        return
    rows = []
    for (node_id, month), kinds in sorted(built.sets.items()):
        for kind, sets in sorted(kinds.items()):
            everyone = sets.get(ALL, _BITMAP[kind]()).serialize()
            if kind in _SPLIT and (node_id, month) in built.everyone_only:
                pops, members = None, None
            else:
                pops = sorted(p for p in sets if p != ALL and len(sets[p]))
                members = [sets[p].serialize() for p in pops]
            rows.append((node_id, month, kind, built.changes[(node_id, month)], built.tree, everyone, pops, members))
    try:
        async with sessions() as session:
            conn = await session.connection()
            driver = (await conn.get_raw_connection()).driver_connection
            # One prepared statement for every row (a whole tree built at once is thousands), in key
            # order: two readers keeping the same sets lock them in the same order.
            await driver.executemany(_store_sql(sql_name(kept.sets.__table__)), rows)
    except Exception:  # noqa: BLE001 - the answer is served all the same; the next reader builds again
        log.warning("distinct sets: could not keep %s set(s) built", len(rows), exc_info=True)


@functools.cache
def _store_sql(table: str) -> str:
    return f"""
        INSERT INTO {table} AS s (node_id, month, kind, changes, tree, everyone, populations, members)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (node_id, month, kind) DO UPDATE SET
            changes = excluded.changes, tree = excluded.tree, everyone = excluded.everyone,
            populations = excluded.populations, members = excluded.members, built_at = now()
        -- Both numbers only grow: of two builds the later state wins, whichever is stored last; of two
        -- of the same state, the one with the populations' sets.
        WHERE s.changes <= excluded.changes AND s.tree <= excluded.tree
          AND (s.changes < excluded.changes OR s.tree < excluded.tree
               OR (s.populations IS NULL AND excluded.populations IS NOT NULL))"""


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
           OR s.changes <> (SELECT coalesce(sum(a.changes), 0) FROM ({live_sql(schema)}) a
                            WHERE a.node_id = s.node_id AND a.grain = 'm' AND a.period = s.month
                              AND a.population = '{ALL}' AND a.metric IN ({counters}))"""


def kept_sql(schema: str) -> str:
    """The kept sets that are current (the ones a reader would serve), with the node's path."""
    counters = ", ".join(f"'{m.value}'" for m in SET_COUNTERS)
    return f"""
        SELECT s.node_id, st.path, s.month, s.kind, s.everyone, s.populations, s.members
        FROM {schema}.distinct_set s JOIN {schema}.station st ON st.id = s.node_id
        WHERE s.tree = (SELECT coalesce(max(change_seq), 0) FROM {schema}.station)
          AND s.changes = (SELECT coalesce(sum(a.changes), 0) FROM ({live_sql(schema)}) a
                           WHERE a.node_id = s.node_id AND a.grain = 'm' AND a.period = s.month
                             AND a.population = '{ALL}' AND a.metric IN ({counters}))
        ORDER BY s.node_id, s.month, s.kind"""
