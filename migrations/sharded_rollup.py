"""The rollup by ancestor as the migrations of 2026-12-05 and 2026-12-06 installed it, frozen here so
that they build on a new database what they built then (`*_ancestor_stat`, `*_distinct_sets`).

Then, the writers' trigger upserted `ancestor_stat` itself, and the rows of the two top levels (a
province, its cities) were split into 16 shards by the writing station (`shard`, station id mod
16), to spread the writers' row locks. The migrations of 2026-12-07 (`*_ancestor_pending`) replaced
it with the design in shared/rollup.py: writers append to `ancestor_pending` and a background step
folds it, so the shards were folded together and their column dropped.
"""

from __future__ import annotations

def ancestor_rows_sql(deltas: str, min_depth: int = 1, ordered: bool = True, counted: bool = False) -> str:
    """SELECT of `ancestor_stat` rows (node_id, grain, metric, period, population, shard, parent_id,
    value) summing `deltas`, a SELECT of (station_id, station_path, day, metric, population, value),
    over every node of each row's path at depth >= min_depth. The month rows are summed per station
    before they are spread over the path (a recount of a whole table spreads a month once, not once
    per day). `ordered`: in key order, so that concurrent writers lock shared rows in the same order
    (no deadlock between two upserts); a rebuild, which holds writers back, needs no order.
    `counted` (the trigger's): a ninth column, `changes`, the delta rows behind each row, and every
    row touched, even one whose amounts cancel out (a date moved inside a month, a station moved
    inside a subtree, a record edited without a count to change): it is a change all the same."""
    having = "" if counted else "\n        HAVING sum(d.value) <> 0"
    return f"""
        SELECT a.node_id, d.grain, d.metric, d.period, d.population,
               (CASE WHEN a.depth <= 2 THEN d.station_id % 16 ELSE 0 END)::smallint AS shard,
               max(a.parent_id) AS parent_id, sum(d.value) AS value{", count(*) AS changes" if counted else ""}
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
        GROUP BY 1, 2, 3, 4, 5, 6{having}""" + ("\n        ORDER BY 1, 2, 3, 4, 5, 6" if ordered else "")


_COLUMNS = "node_id, grain, metric, period, population, shard, parent_id, value"
_KEY = "node_id, grain, metric, period, population, shard"


def ancestor_upsert_sql(schema: str, deltas: str, min_depth: int = 1, counted: bool = True) -> str:
    """INSERT .. ON CONFLICT adding `deltas` (see ancestor_rows_sql) to `schema`.ancestor_stat. A row's
    parent is left as it is: only a station move (station_moved) changes it. `counted`: raising each
    row's `changes` too (not before the column existed: migrations' *_ancestor_stat)."""
    if not counted:
        return f"""
        INSERT INTO {schema}.ancestor_stat AS a ({_COLUMNS})
        {ancestor_rows_sql(deltas, min_depth)}
        ON CONFLICT ({_KEY}) DO UPDATE SET value = a.value + excluded.value"""
    return f"""
        INSERT INTO {schema}.ancestor_stat AS a ({_COLUMNS}, changes)
        {ancestor_rows_sql(deltas, min_depth, counted=True)}
        ON CONFLICT ({_KEY}) DO UPDATE SET value = a.value + excluded.value, changes = a.changes + excluded.changes"""


_DELTAS = "SELECT station_id, station_path, day, metric, population, {sign}value AS value FROM {rows}"


def ancestor_trigger_sql(schema: str, counted: bool = True) -> list[str]:
    """The function and the three statement triggers that keep `schema`.ancestor_stat from every change
    of `schema`.daily_stat (PostgreSQL allows transition tables on one event per trigger). An upsert
    fires the INSERT trigger for its new rows and the UPDATE one for the rows it changed. `counted`:
    the function that raises `changes` too (ancestor_upsert_sql); the first two statements alone
    replace the function of a schema that has the triggers already."""
    inserted = _DELTAS.format(sign="", rows="new_rows")
    deleted = _DELTAS.format(sign="-", rows="old_rows")
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}.ancestor_stat_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {ancestor_upsert_sql(schema, inserted, counted=counted)};
            ELSIF TG_OP = 'UPDATE' THEN
                {ancestor_upsert_sql(schema, f"{inserted} UNION ALL {deleted}", counted=counted)};
            ELSE
                {ancestor_upsert_sql(schema, deleted, counted=counted)};
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
