"""The pull reads a subtree's rows changed in a window through one index per synced table,
(station_path, change_xid) (migrations.common PULL_INDEX): on station_path alone PostgreSQL visited
every row of the subtree to test when it changed, at the province thousands of rows for ten.
Which plan PostgreSQL picks depends on the table's size and spread, so the plans themselves are
shown at the province (docs/performance.md, "The pull's index"), not on a test's few rows."""

from __future__ import annotations

from migrations.common import PULL_INDEX
from services.cases.sync import TABLES as CASES_TABLES
from services.projects.sync import TABLES as PROJECTS_TABLES
from services.volunteers.sync import TABLES as VOLUNTEERS_TABLES

SYNCED = [t.model for t in (*CASES_TABLES, *PROJECTS_TABLES, *VOLUNTEERS_TABLES)]


async def test_every_synced_table_has_the_pull_index_and_no_other_on_station_path(db):
    indexes = {(r["schemaname"], r["indexname"]): r["indexdef"] for r in await db.fetch(
        "SELECT schemaname, indexname, indexdef FROM pg_indexes")}
    # Every record table with the sync marker, synced to tablets or not (REST pages read by scope too).
    marked = {(r["nspname"], r["relname"]) for r in await db.fetch("""
        SELECT n.nspname, c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE a.attname = 'change_xid' AND c.relkind = 'r' AND n.nspname IN ('cases', 'projects', 'volunteers')
          AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = 'station_path')
          AND c.relname <> 'sync_departure'""")}
    synced = {(m.__table__.schema, m.__table__.name) for m in SYNCED}
    assert len(synced) == len(SYNCED) and synced <= marked and len(marked) > 20, (synced - marked, len(marked))
    for schema, table in sorted(marked):
        made = indexes.get((schema, PULL_INDEX.format(table=table)))
        assert made is not None and made.endswith("USING btree (station_path, change_xid)"), (table, made)
        # The old single-column index would only cost every write; the new one serves its queries.
        assert (schema, f"ix_{table}_station_path") not in indexes, table

