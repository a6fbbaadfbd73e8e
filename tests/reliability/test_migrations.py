"""Every migration upgrades a database with data in it and downgrades cleanly, one lineage at
a time, each in a fresh database of its own.

The revisions come from alembic's ScriptDirectory, so a new migration is covered the day it
lands. For each step from the previous revision to the next:

1. every table of the previous revision holds rows (made up from the catalog: each column gets
   a value of its type, foreign keys point at the parent's rows; OVERRIDES fixes the few
   columns a CHECK constrains);
2. upgrade: every row is still there with the same values (a migration that rewrites a column
   on purpose names it in TRANSFORMS), and the revision's own invariants hold (INVARIANTS:
   e.g. a backfill produced exactly what the source rows say);
3. downgrade: the schema is exactly the previous revision's (columns, types, defaults,
   constraints, indexes, triggers, functions, sequences) and so is every row;
4. upgrade again and go on to the next revision, whose new tables are then filled in turn.

At head, everything the models declare must exist as declared (alembic's autogenerate comparison
finds nothing to add or alter), so a model change without its migration fails here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import uuid
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from ops.migrate import LINEAGES, config
from migrations.common import MD5_PERSON_KEY_SQL, fill_person_day_sql, md5_person_key
from shared.stats import ALL

pytestmark = pytest.mark.slow

ROWS_PER_TABLE = 2
# Column values a CHECK constraint (or a rule between two columns) needs; None writes NULL.
OVERRIDES: dict[str, dict[str, object]] = {
    "gateway.station": {"kind": "township", "parent_id": None},
    # lock_count and locked_until: state gateway_0007 drops for good (it means nothing after); a
    # downgrade brings the columns back empty, as made-up rows have them.
    "gateway.user": {"role": "social_worker", "lock_count": 0, "locked_until": None},
    "projects.attendance": {"activity_id": None},  # one occasion: a session here
    "volunteers.service_hours": {"start_time": time(9), "end_time": time(11)},
    # A served day is always a registered volunteer's (written from service_hours, whose volunteer_id
    # is a foreign key): volunteers_0012 copies the volunteer's member number onto it. No foreign key
    # says so (it would cost every write of hours a lookup), so the made-up rows name the made-up
    # volunteer row 1 ("volunt-id-1", see made_up).
    "volunteers.served_day": {"volunteer_id": "volunt-id-1"},
    # Targets as clients wrote them before projects_0005 renamed the people-with-a-case target.
    "projects.project": {"targets": json.dumps([{"metric": "groups", "target": 3},
                                                {"metric": "beneficiaries.registered", "target": 80}])},
    # A station whose rows the sharded rollup's trigger (until *_ancestor_pending) put in shard 0 (its id
    # mod 16), where that revision's downgrade puts every row back: the shards it folds together do not
    # come apart again. The fold itself: test_the_rollups_shards_fold_into_one_row_per_key.
    **{f"{s}.daily_stat": {"station_id": 16} for s in ("cases", "projects", "volunteers")},
}
# Columns a revision rewrites on purpose, per table: "revision": {"schema.table": {"column", ...}}.
# A dropped table is named with the column set {"*"}.
TRANSFORMS: dict[str, dict[str, set[str]]] = {
    # Sensitive free text and health/disability details sealed at rest (encrypted in place);
    # tests/security/test_sealing_migrations.py checks they decrypt back to the originals.
    "cases_0005": {"cases.beneficiary": {"address", "self_care", "disability_type", "disability_grade"},
                   "cases.case": {"presenting_problem"}, "cases.case_event": {"note"},
                   "cases.assessment": {"needs", "notes"}, "cases.service_plan": {"notes"},
                   "cases.service_record": {"content"}, "cases.referral": {"reason", "notes"},
                   "cases.follow_up": {"notes"}},
    "projects_0004": {"projects.group_session": {"notes"}, "projects.activity": {"notes"}},
    "projects_0005": {"projects.project": {"targets"}},
    "gateway_0007": {"gateway.user": {"lock_count", "locked_until"}},
    # person_day keyed by person numbers instead of md5 keys: rebuilt (cases) or emptied to be refilled
    # as attendance is numbered (projects, ops/person_numbers.py); person_day_is_numbered checks them.
    "cases_0015": {"cases.person_day": {"*"}},
    "projects_0009": {"projects.person_day": {"*"}},
    # The shard column dropped, its shards folded into one row per key (shards_folded checks the sums).
    "cases_0020": {"cases.ancestor_stat": {"*"}},
    "projects_0013": {"projects.ancestor_stat": {"*"}},
    "volunteers_0013": {"volunteers.ancestor_stat": {"*"}},
}
# Columns never compared: the sync marker moves whenever a row is written.
VOLATILE = {"change_xid"}


def revisions(lineage: str) -> list[str]:
    """The lineage's revisions from the first to head (one line: branches would need merging)."""
    script = ScriptDirectory.from_config(config(lineage))
    assert len(script.get_heads()) == 1, f"{lineage} has several heads: {script.get_heads()}"
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


# --- what the database holds ----------------------------------------------------------------

async def tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    return [r["relname"] for r in await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version' ORDER BY 1", schema)]


async def schema_of(conn: asyncpg.Connection, schema: str) -> dict[str, list]:
    """Everything a migration can change in a schema, as comparable rows (the version table aside)."""
    queries = {
        "columns": """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, coll.collname
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            LEFT JOIN pg_collation coll ON coll.oid = a.attcollation AND a.attcollation <> 100
            WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')""",
        "constraints": """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1""",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1",
        "triggers": """
            SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND NOT t.tgisinternal""",
        "functions": """
            SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc) FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1""",
        "sequences": "SELECT sequencename, data_type::text, increment_by FROM pg_sequences WHERE schemaname = $1",
        "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = $1",
        "types": """
            SELECT t.typname, t.typtype, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_type t
            JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_enum e ON e.enumtypid = t.oid
            WHERE n.nspname = $1 AND t.typtype IN ('e', 'd') GROUP BY 1, 2""",
    }
    snapshot = {}
    for kind, sql in queries.items():
        rows = [tuple(r) for r in await conn.fetch(sql, schema)]
        snapshot[kind] = sorted((r for r in rows if not any(isinstance(v, str) and "alembic_version" in v for v in r)),
                                key=repr)
    return snapshot


async def primary_key(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    return [r["attname"] for r in await conn.fetch(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary ORDER BY a.attnum",
        schema, table)]


async def data_of(conn: asyncpg.Connection, schema: str) -> dict[str, dict[tuple, dict]]:
    """Every row of every table, keyed by table and primary key, the sync marker left out."""
    out = {}
    for table in await tables(conn, schema):
        key = await primary_key(conn, schema, table)
        rows = {}
        for r in await conn.fetch(f'SELECT to_jsonb(t)::text AS row FROM "{schema}"."{table}" t'):
            row = {k: v for k, v in json.loads(r["row"]).items() if k not in VOLATILE}
            rows[tuple(row[k] for k in key) if key else tuple(sorted(row.items(), key=repr))] = row
        out[table] = rows
    return out


def assert_survived(before: dict, after: dict, schema: str, revision: str) -> None:
    allowed = TRANSFORMS.get(revision, {})
    for table, rows in before.items():
        changing = allowed.get(f"{schema}.{table}", set())
        if "*" in changing:
            continue
        assert table in after, f"{revision} dropped {schema}.{table} with {len(rows)} rows in it"
        for key, row in rows.items():
            new = after[table].get(key)
            assert new is not None, f"{revision} lost the row {key} of {schema}.{table}"
            for column in row.keys() - new.keys() - changing:
                assert row[column] is None, (
                    f"{revision} dropped {schema}.{table}.{column}, which held {row[column]!r} in row {key} "
                    "(a drop on purpose goes into TRANSFORMS)")
            for column in row.keys() & new.keys() - changing:
                assert new[column] == row[column], (
                    f"{revision} changed {schema}.{table}.{column} of row {key}: {row[column]!r} -> {new[column]!r}"
                    " (a rewrite on purpose goes into TRANSFORMS)")


# --- made-up rows ----------------------------------------------------------------------------

async def columns_of(conn: asyncpg.Connection, schema: str, table: str) -> list[asyncpg.Record]:
    return await conn.fetch("""
        SELECT a.attname AS name, t.typname AS type, t.typtype, et.typname AS element, a.attnotnull AS not_null,
               a.attgenerated <> '' AS generated, information_schema._pg_char_max_length(
                   information_schema._pg_truetypid(a, t), information_schema._pg_truetypmod(a, t)) AS max_length,
               a.atttypid AS type_oid
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type et ON et.oid = t.typelem
             AND t.typcategory = 'A'
        WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""", schema, table)


async def foreign_keys(conn: asyncpg.Connection, schema: str, table: str) -> dict[str, tuple[str, str]]:
    """column -> (referenced table, referenced column), for one-column foreign keys."""
    rows = await conn.fetch("""
        SELECT a.attname AS col, rc.relname AS ref_table, ra.attname AS ref_col
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_class rc ON rc.oid = c.confrelid
        JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
        WHERE c.conrelid = format('%I.%I', $1::text, $2::text)::regclass AND c.contype = 'f'
          AND array_length(c.conkey, 1) = 1""", schema, table)
    return {r["col"]: (r["ref_table"], r["ref_col"]) for r in rows}


def made_up(column: asyncpg.Record, table: str, i: int, enums: dict[int, list[str]]):
    """Row i's value for a column, by its type; unique per row, within the column's length."""
    name, kind = column["name"], column["type"]
    if name in ("path", "station_path"):
        return f"/{i + 1}/"
    if column["typtype"] == "e":
        return enums[column["type_oid"]][0]
    scalar = {
        "int2": i + 1, "int4": i + 1, "int8": i + 1, "numeric": Decimal(i + 1), "float8": float(i + 1),
        "bool": True, "date": date(2026, 1, 2 + i), "timestamptz": datetime(2026, 1, 2 + i, 3, 4, 5, tzinfo=UTC),
        "timestamp": datetime(2026, 1, 2 + i, 3, 4, 5), "time": time(9 + i), "uuid": uuid.uuid4(),
        "jsonb": json.dumps({"made_up": i}), "json": json.dumps({"made_up": i}), "bytea": b"made-up",
    }
    if kind in scalar:
        return scalar[kind]
    if kind in ("varchar", "text", "bpchar"):
        value = f"{table[:6]}-{name[:10]}-{i + 1}"
        return value[-column["max_length"]:] if column["max_length"] else value
    if column["element"] is not None:
        element = {"varchar": "elderly", "text": "elderly", "int8": i + 1, "int4": i + 1,
                   "timestamptz": scalar["timestamptz"], "bytea": b"made-up"}.get(column["element"])
        assert element is not None, f"no made-up value for an array of {column['element']} ({table}.{name})"
        return [element]
    raise AssertionError(f"no made-up value for type {kind} ({table}.{name}): teach made_up() or add an OVERRIDE")


async def fill_empty_tables(conn: asyncpg.Connection, schema: str, revision: str) -> None:
    """ROWS_PER_TABLE rows in every table of the schema that has none, parents before children."""
    enums = defaultdict(list)
    for r in await conn.fetch("SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumsortorder"):
        enums[r["enumtypid"]].append(r["enumlabel"])
    names = await tables(conn, schema)
    fks = {t: await foreign_keys(conn, schema, t) for t in names}
    done: set[str] = set()
    made: dict[str, list[dict]] = {}
    while len(done) < len(names):
        ready = [t for t in names if t not in done
                 and all(ref in done or ref == t for ref, _ in fks[t].values())]
        assert ready, f"foreign keys in a cycle among {set(names) - done}"
        for table in ready:
            done.add(table)
            made[table] = [dict(r) for r in await conn.fetch(f'SELECT * FROM "{schema}"."{table}"')]
            if made[table]:
                continue  # rows from an earlier revision, a seed or a backfill
            columns = await columns_of(conn, schema, table)
            overrides = OVERRIDES.get(f"{schema}.{table}", {})
            for i in range(ROWS_PER_TABLE):
                row = {}
                for column in columns:
                    name = column["name"]
                    if column["generated"] or column["type"] == "xid8" or name == "deleted_at":
                        continue  # computed, the sync marker's, or a tombstone (kept live for backfills)
                    if name in overrides:
                        row[name] = overrides[name]
                    elif name in fks[table] and fks[table][name][0] != table:
                        ref_table, ref_col = fks[table][name]
                        row[name] = made[ref_table][i % len(made[ref_table])][ref_col]
                    elif name in fks[table]:
                        row[name] = None  # a self reference: a root
                    else:
                        row[name] = made_up(column, table, i, enums)
                cols = ", ".join(f'"{c}"' for c in row)
                marks = ", ".join(f"${n + 1}" for n in range(len(row)))
                try:
                    await conn.execute(f'INSERT INTO "{schema}"."{table}" ({cols}) VALUES ({marks})', *row.values())
                except asyncpg.PostgresError as exc:
                    raise AssertionError(
                        f"at {revision}, a made-up row for {schema}.{table} was refused ({type(exc).__name__}: "
                        f"{exc}); give the constrained columns a value in OVERRIDES") from None
            made[table] = [dict(r) for r in await conn.fetch(f'SELECT * FROM "{schema}"."{table}"')]


# --- what a revision promises about the data it was given ------------------------------------

async def person_day_is_backfilled(conn: asyncpg.Connection, schema: str, source: str,
                                   numbered: bool = False) -> None:
    """The distinct-persons rollup holds, for each counted record, its person on its day at its
    station, once per population and once under ALL, with refs counting the records. `numbered`:
    the source gives person numbers (`person`), else beneficiary ids (`person_id`, md5 keys)."""
    expected: dict[tuple, int] = defaultdict(int)
    for r in await conn.fetch(source):
        person = r["person"] if numbered else md5_person_key(r["person_id"])
        for population in (ALL, *r["populations"]):
            expected[(r["station_id"], r["day"], population, person)] += 1
    stored = {(r["station_id"], r["day"], r["population"], r["person"]): r["refs"] for r in await conn.fetch(
        f"SELECT station_id, day, population, person, refs FROM {schema}.person_day")}
    assert expected or numbered, "the made-up rows should have given the backfill something to count"
    assert stored == dict(expected)


async def beneficiaries_numbered(conn: asyncpg.Connection) -> None:
    """Every beneficiary has a number of its own, from 1 in registration order; the next one follows them;
    person_day counts the people of the live service records and visits by those numbers."""
    rows = await conn.fetch("SELECT person_no FROM cases.beneficiary ORDER BY created_at, id")
    assert rows and [r["person_no"] for r in rows] == list(range(1, len(rows) + 1))
    following = await conn.fetchrow("SELECT last_value, is_called FROM cases.person_no_seq")
    assert (following["last_value"], following["is_called"]) == (len(rows) + 1, False)
    await person_day_is_backfilled(conn, "cases", """
        SELECT r.station_id, r.served_on AS day, b.person_no AS person, r.populations
        FROM cases.service_record r JOIN cases.beneficiary b ON b.id = r.beneficiary_id
        WHERE r.deleted_at IS NULL
        UNION ALL
        SELECT v.station_id, v.visited_on, b.person_no, v.populations
        FROM cases.visit v JOIN cases.beneficiary b ON b.id = v.beneficiary_id
        WHERE v.deleted_at IS NULL""", numbered=True)


async def targets_renamed(conn: asyncpg.Connection) -> None:
    """Every stored people-with-a-case target has its new name, in its place; the others are unchanged."""
    stored = [json.loads(r["targets"]) for r in await conn.fetch("SELECT targets FROM projects.project")]
    assert stored and all(t == [{"metric": "groups", "target": 3}, {"metric": "cases.beneficiaries", "target": 80}]
                          for t in stored), stored


async def volunteers_numbered(conn: asyncpg.Connection) -> None:
    """volunteers_0012: member numbers 1..n in registration order, each served day carrying its
    volunteer's, and the next volunteer given n + 1."""
    numbers = [r["member_no"] for r in await conn.fetch(
        "SELECT member_no FROM volunteers.volunteer ORDER BY created_at, id")]
    assert numbers and numbers == list(range(1, len(numbers) + 1)), numbers
    assert await conn.fetchval("SELECT count(*) FROM volunteers.served_day") > 0
    assert await conn.fetchval(
        "SELECT count(*) FROM volunteers.served_day s LEFT JOIN volunteers.volunteer v ON v.id = s.volunteer_id "
        "WHERE v.member_no IS DISTINCT FROM s.member_no") == 0
    assert await conn.fetchval("SELECT nextval('volunteers.volunteer_member_no_seq')") == len(numbers) + 1


INVARIANTS: dict[str, Callable[[asyncpg.Connection], Awaitable[None]]] = {
    "volunteers_0012": volunteers_numbered,
    "cases_0015": beneficiaries_numbered,
    "projects_0005": targets_renamed,
    "cases_0004": lambda conn: person_day_is_backfilled(conn, "cases", """
        SELECT station_id, served_on AS day, beneficiary_id AS person_id, populations
        FROM cases.service_record WHERE deleted_at IS NULL"""),
    "projects_0003": lambda conn: person_day_is_backfilled(conn, "projects", """
        SELECT s.station_id, s.held_on AS day, a.beneficiary_id AS person_id, a.populations
        FROM projects.attendance a JOIN projects.group_session s ON s.id = a.session_id
        WHERE a.deleted_at IS NULL AND s.deleted_at IS NULL
        UNION ALL
        SELECT v.station_id, v.held_on, a.beneficiary_id, a.populations
        FROM projects.attendance a JOIN projects.activity v ON v.id = a.activity_id
        WHERE a.deleted_at IS NULL AND v.deleted_at IS NULL"""),
}


# Made-up rows of a counted record are given the rollup rows the service's write path would have written
# with them, so that a later revision's rebuild of a rollup from the records finds what was there.
COUNTED: dict[str, str] = {
    "cases_0012": fill_person_day_sql("cases", """
        SELECT station_id, station_path, visited_on AS day, beneficiary_id AS person_id, populations
        FROM cases.visit WHERE deleted_at IS NULL""", MD5_PERSON_KEY_SQL.format(column="r.person_id")),
}


# --- the walk ------------------------------------------------------------------------------

def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def fresh_database(database_url: str, request):
    """A database of its own for one lineage, named so the suite's stale-database sweep finds it."""
    name = f"haolin_test_migrations_{request.node.callspec.id}_{os.getpid()}"
    server = make_url(database_url)
    admin = await asyncpg.connect(_plain(server.set(database="postgres").render_as_string(hide_password=False)))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def migrate(direction: str, lineage: str, url: str, target: str) -> None:
    step = command.upgrade if direction == "up" else command.downgrade
    await asyncio.to_thread(step, config(lineage, url), target)


def models_metadata(lineage: str):
    module = "gateway.models" if lineage == "gateway" else f"services.{lineage}.models"
    return importlib.import_module(module).Base.metadata


@pytest.mark.parametrize("lineage", LINEAGES)
async def test_every_revision_upgrades_with_data_and_downgrades_cleanly(lineage, fresh_database):
    url, schema = fresh_database, lineage
    conn = await asyncpg.connect(_plain(url))
    try:
        previous = "base"
        for revision in revisions(lineage):
            schema_before, data_before = await schema_of(conn, schema), await data_of(conn, schema)

            await migrate("up", lineage, url, revision)
            assert_survived(data_before, await data_of(conn, schema), schema, revision)
            if revision in INVARIANTS:
                await INVARIANTS[revision](conn)

            await migrate("down", lineage, url, previous)
            schema_after = await schema_of(conn, schema)
            assert schema_after == schema_before, f"{revision} does not downgrade to {previous}: " + "; ".join(
                f"{kind} left behind {sorted(set(schema_after[kind]) - set(rows))}, "
                f"missing {sorted(set(rows) - set(schema_after[kind]))}"
                for kind, rows in schema_before.items() if schema_after[kind] != rows)
            assert await data_of(conn, schema) == data_before, f"{revision}'s downgrade changed the data"

            await migrate("up", lineage, url, revision)
            await fill_empty_tables(conn, schema, revision)
            if revision in COUNTED:
                await conn.execute(COUNTED[revision])
            previous = revision
        assert await conn.fetchval(f'SELECT version_num FROM "{schema}".alembic_version') == previous
    finally:
        await conn.close()
    await asyncio.to_thread(assert_matches_models, lineage, url, schema)


def assert_matches_models(lineage: str, url: str, schema: str) -> None:
    """At head the database is what the models say (autogenerate would write an empty migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def compare() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                def diff(sync_conn):
                    context = MigrationContext.configure(sync_conn, opts={
                        "include_schemas": True, "compare_type": True,
                        "include_name": lambda name, type_, parent: type_ != "schema" or name == schema,
                        "version_table_schema": schema})
                    with warnings.catch_warnings():
                        # The sync marker's xid8, which no model declares (see below).
                        warnings.filterwarnings("ignore", "Did not recognize type 'xid8'")
                        return compare_metadata(context, models_metadata(lineage))
                return await conn.run_sync(diff)
        finally:
            await engine.dispose()

    # What only the database has is left alone: the sync marker (change_xid, its index and trigger) is
    # the database's own, and partial or expression indexes live in the migrations only. What the
    # models say and the database lacks, or has otherwise, is a missing migration.
    flat = [d for item in asyncio.run(compare()) for d in (item if isinstance(item, list) else [item])]
    missing = [d for d in flat if not d[0].startswith("remove_")]
    assert missing == [], f"{lineage}: the models say what no migration made: {missing}"


@pytest.mark.parametrize("lineage", LINEAGES)
def test_every_step_has_the_name_alembic_logs_it_by(lineage):
    """alembic's INFO line ("Running upgrade a -> b, <name>") reads each step's `__name__`; a bare
    functools.partial has none, so an upgrade or downgrade with INFO logging on (alembic's own
    command line, or `pytest --log-level=INFO`) crashed on that line before doing anything."""
    script = ScriptDirectory.from_config(config(lineage))
    for revision in script.walk_revisions("base", "heads"):
        for step in (revision.module.upgrade, revision.module.downgrade):
            assert isinstance(step.__name__, str) and step.__name__, (revision.revision, step)


# The revision that folds the rollup's shards together (writers append, a background step folds:
# shared.rollup), and the one before it, per lineage.
ANCESTOR_PENDING = {"cases": ("cases_0019", "cases_0020"), "projects": ("projects_0012", "projects_0013"),
                    "volunteers": ("volunteers_0012", "volunteers_0013")}


@pytest.mark.parametrize("lineage", sorted(ANCESTOR_PENDING))
async def test_the_rollups_shards_fold_into_one_row_per_key(lineage, fresh_database):
    """A key's rows in several shards become one row holding their sums (value and change count), its
    parent kept; a key in one shard is left as it was; nothing is left pending."""
    url, schema = fresh_database, lineage
    before, revision = ANCESTOR_PENDING[lineage]
    await migrate("up", lineage, url, before)
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.executemany(
            f"INSERT INTO {schema}.ancestor_stat (node_id, grain, metric, period, population, shard, parent_id, "
            "value, changes) VALUES ($1, $2, 'person_times.casework', $3, $4, $5, $6, $7, $8)",
            [(1, "m", date(2026, 11, 1), ALL, 0, 0, Decimal("1.50"), 1),
             (1, "m", date(2026, 11, 1), ALL, 3, 0, Decimal("2.00"), 2),
             (1, "m", date(2026, 11, 1), ALL, 7, 0, Decimal("-0.50"), 4),
             (1, "d", date(2026, 11, 3), ALL, 7, 0, Decimal("3.00"), 1),
             (2, "d", date(2026, 11, 3), "elderly", 0, 1, Decimal("4.00"), 1)])
        await migrate("up", lineage, url, revision)
        rows = [tuple(r) for r in await conn.fetch(
            f"SELECT * FROM {schema}.ancestor_stat ORDER BY node_id, grain, period, population")]
        assert rows == [(1, "d", "person_times.casework", date(2026, 11, 3), ALL, 0, Decimal("3.00"), 1),
                        (1, "m", "person_times.casework", date(2026, 11, 1), ALL, 0, Decimal("3.00"), 7),
                        (2, "d", "person_times.casework", date(2026, 11, 3), "elderly", 1, Decimal("4.00"), 1)]
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.ancestor_pending") == 0
    finally:
        await conn.close()
