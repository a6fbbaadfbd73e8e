"""Helpers the lineages share: the async runner, the sync-marker trigger, and the tables
and columns every service schema has (station replica, synced records, daily rollups).

A revision that every lineage makes alike is one helper each way, bound to the lineage's schema:
`upgrade = bound(create_x, "cases")` and `downgrade = bound(drop_x, "cases")` (alembic calls
both with no arguments), so the revisions differ only in what truly differs."""

from __future__ import annotations

import asyncio
from functools import partial

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import async_engine_from_config


# shared.models.PathType: the C collation lets a btree index serve `station_path LIKE '/1/12/%'`.
PATH = sa.String(255, collation="C")


def bound(fn, *args, **kwargs):
    """`fn` bound to its lineage's arguments, keeping fn's name: alembic names each step by its
    function's `__name__` when it logs at INFO, and a bare partial has none (the upgrade crashed)."""
    step = partial(fn, *args, **kwargs)
    step.__name__ = fn.__name__
    return step


def database_url(schema: str) -> str:
    """The schema owner's URL (ops.migrate.owner_url), unless the caller gave one."""
    from ops.migrate import owner_url

    return context.config.attributes.get("url") or owner_url(schema)


def run_env(schema: str, target_metadata) -> None:
    """Body of every env.py: online migrations only, version table in the lineage's schema."""

    def do_run(connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table="alembic_version",
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = async_engine_from_config({"sqlalchemy.url": database_url(schema)}, prefix="sqlalchemy.",
                                          poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.commit()
            await connection.run_sync(do_run)
        await engine.dispose()

    connection = context.config.attributes.get("connection")
    if connection is not None:
        do_run(connection)
    else:
        asyncio.run(run())


def create_sync_marker_function(schema: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION "{schema}".touch_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.change_xid := pg_current_xact_id();
        RETURN NEW;
    END $$;
    """


def add_sync_marker(schema: str, table: str) -> list[str]:
    """SQL giving `table` its change_xid column, index and trigger (see shared.models.RecordMixin)."""
    return [
        f'ALTER TABLE "{schema}"."{table}" ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()',
        f'CREATE INDEX ix_{table}_change_xid ON "{schema}"."{table}" (change_xid, id)',
        f'CREATE TRIGGER trg_{table}_change_xid BEFORE INSERT OR UPDATE ON "{schema}"."{table}" '
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".touch_change_xid()',
    ]


def create_station_replica(schema: str) -> None:
    """The sync-marker trigger function and the schema's replica of gateway.station."""
    op.execute(create_sync_marker_function(schema))
    op.create_table(
        "station",
        sa.Column("id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.BigInteger),
        sa.Column("path", PATH, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station"),
        sa.UniqueConstraint("path", name="uq_station_path"),
        schema=schema,
    )


def drop_station_replica(schema: str) -> None:
    op.drop_table("station", schema=schema)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".touch_change_xid()')


def record_columns() -> list[sa.Column]:
    """Fresh columns matching shared.models.RecordMixin (a Column belongs to one table only)."""
    return [
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("station_path", PATH, nullable=False),
        sa.Column("version", sa.Integer, server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(64)),
        sa.Column("updated_by", sa.String(64)),
    ]


def create_record_table(schema: str, name: str, *columns, indexes: tuple[str, ...] = (), **kw) -> None:
    """A synced-record table: RecordMixin's columns then `columns`, primary key pk_<name> on id,
    an index ix_<name>_<col> on station_id, station_path and each of `indexes`, and the sync
    marker (change_xid). `kw` goes to op.create_table. What it builds is what the revisions that
    call it built then; a table made after the *_pull_index revisions then calls add_pull_index."""
    op.create_table(name, *record_columns(), *columns, sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
                    schema=schema, **kw)
    for col in ("station_id", "station_path", *indexes):
        op.create_index(f"ix_{name}_{col}", name, [col], schema=schema)
    for statement in add_sync_marker(schema, name):
        op.execute(statement)


def foreign_key(schema: str, table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """fk_<table>_<column>_<target>: `column` of `table` names a row of `target` in the same schema."""
    return sa.ForeignKeyConstraint([column], [f"{schema}.{target}.id"], name=f"fk_{table}_{column}_{target}")


def create_daily_stat(schema: str) -> None:
    """The schema's daily rollups (each service's models.DailyStat): one value per station, day,
    metric and population."""
    op.create_table(
        "daily_stat",
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("station_path", PATH, nullable=False),
        sa.Column("value", sa.Numeric(16, 2), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "day", "metric", "population", name="pk_daily_stat"),
        schema=schema,
    )
    op.create_index("ix_daily_stat_station_path_day", "daily_stat", ["station_path", "day"], schema=schema)


# The key person_day held before person numbers: the first 8 bytes of the md5 of the beneficiary
# id as a signed big-endian integer. Only the revisions that made person_day with it use it.
MD5_PERSON_KEY_SQL = "('x' || substr(md5({column}), 1, 16))::bit(64)::bigint"


def md5_person_key(person_id: str) -> int:
    """MD5_PERSON_KEY_SQL in Python (what those revisions' tests compare with)."""
    import hashlib

    return int.from_bytes(hashlib.md5(person_id.encode()).digest()[:8], "big", signed=True)


def create_person_day(schema: str, backfill: str | None = None) -> None:
    """The schema's distinct-persons rollup (shared.persons.person_day_model), keyed by MD5_PERSON_KEY_SQL.

    backfill: a SELECT of (station_id, station_path, day, person_id, populations) with one row
    per counted record already there, so persons served before this table existed count too."""
    op.create_table(
        "person_day",
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("person", sa.BigInteger, nullable=False),
        sa.Column("station_path", PATH, nullable=False),
        sa.Column("refs", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "day", "population", "person", name="pk_person_day"),
        schema=schema,
    )
    op.create_index("ix_person_day_station_path_day", "person_day", ["station_path", "day"], schema=schema)
    if backfill:
        op.execute(fill_person_day_sql(schema, backfill, MD5_PERSON_KEY_SQL.format(column="r.person_id")))


def fill_person_day_sql(schema: str, source: str, person: str = "r.person") -> str:
    """INSERT of person_day rows from `source`, a SELECT of (station_id, station_path, day, person or
    person_id, populations) with one row per counted record; `person`: the key as an expression of `r`.
    Rows already there get the new records' references added."""
    from shared.stats import ALL

    return f"""
        INSERT INTO {schema}.person_day (station_id, day, population, person, station_path, refs)
        SELECT r.station_id, r.day, p.code, {person}, max(r.station_path), count(*)
        FROM ({source}) AS r
        CROSS JOIN LATERAL unnest(array_prepend('{ALL}'::varchar, r.populations::varchar[])) AS p(code)
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (station_id, day, population, person) DO UPDATE SET refs = {schema}.person_day.refs + excluded.refs"""


def drop_person_day(schema: str) -> None:
    op.drop_table("person_day", schema=schema)


def create_idempotency_table(schema: str) -> None:
    """The schema's stored answers of keyed creates (shared.idempotency.idempotency_model)."""
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("answer", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_key"),
        schema=schema,
    )
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"], schema=schema)


def drop_idempotency_table(schema: str) -> None:
    op.drop_table("idempotency_key", schema=schema)


def create_attachment_table(schema: str) -> None:
    """The schema's attachments (shared.attachments.attachment_model): files on its records."""
    create_record_table(
        schema, "attachment",
        sa.Column("owner_table", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(24), nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("received_kind", sa.String(8), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(80), nullable=False),
        sa.Column("thumbnail_key", sa.String(90)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
    )
    op.create_index("ix_attachment_owner", "attachment", ["owner_table", "owner_id"], schema=schema)


def drop_attachment_table(schema: str) -> None:
    op.drop_table("attachment", schema=schema)


def create_prune_function(schema: str) -> None:
    """The schema owner's prune_audit_log (shared.audit.prune_function_sql): the application's role
    prunes audit rows through it and needs no DELETE."""
    from shared.audit.ddl import prune_function_sql

    for statement in prune_function_sql(schema):
        op.execute(statement)


def create_ancestor_stat(schema: str) -> None:
    """The schema's rollup by ancestor (shared.rollup, the `ancestors` of models.DailyStat), backfilled
    from daily_stat, and the triggers that keep it from every change of daily_stat from then on."""
    from migrations.sharded_rollup import ancestor_rows_sql, ancestor_trigger_sql

    op.create_table(
        "ancestor_stat",
        sa.Column("node_id", sa.BigInteger, nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("parent_id", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Numeric(16, 2), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "grain", "metric", "period", "population", "shard",
                                name="pk_ancestor_stat"),
        schema=schema,
    )
    op.create_index("ix_ancestor_stat_parent_id", "ancestor_stat", ["parent_id", "grain", "metric", "period"],
                    schema=schema)
    # Before the triggers, under a lock that holds writes back until the migration commits, so no
    # write is counted twice or missed.
    op.execute(f"LOCK TABLE {schema}.daily_stat IN SHARE MODE")
    op.execute(f"""INSERT INTO {schema}.ancestor_stat
                   (node_id, grain, metric, period, population, shard, parent_id, value)
                   {ancestor_rows_sql(f"SELECT station_id, station_path, day, metric, population, value "
                                      f"FROM {schema}.daily_stat")}""")
    for statement in ancestor_trigger_sql(schema, counted=False):
        op.execute(statement)


def drop_ancestor_stat(schema: str) -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS daily_stat_ancestors_{event} ON {schema}.daily_stat")
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.ancestor_stat_apply()")
    op.drop_table("ancestor_stat", schema=schema)


def create_distinct_sets(schema: str, sets: bool = True) -> None:
    """ancestor_stat's change count (`changes`), the trigger function that raises it on every row a write
    touches, and (`sets`) the table of distinct sets kept by ancestor and month that readers build and
    check against it (shared.distinct_sets.distinct_set_model). Nothing to backfill: counts start at 0
    and no set is kept until read."""
    from migrations.sharded_rollup import ancestor_trigger_sql

    op.add_column("ancestor_stat", sa.Column("changes", sa.BigInteger, server_default=sa.text("0"), nullable=False),
                  schema=schema)
    op.execute(ancestor_trigger_sql(schema)[0])  # the function; the triggers calling it stay
    if sets:
        create_distinct_set_table(schema)


def create_ancestor_pending(schema: str) -> None:
    """Writers append their deltas to `ancestor_pending` and a background step folds them into
    `ancestor_stat` (shared.rollup): the pending table, the trigger function that appends, and the
    shards of the old design folded into one row per key, their column dropped. Under a lock that
    holds writes back until the migration commits: the old trigger function cannot run after the
    shards are gone."""
    from shared.rollup import ancestor_trigger_sql

    op.execute(f"LOCK TABLE {schema}.daily_stat IN SHARE MODE")
    op.create_table(
        "ancestor_pending",
        sa.Column("node_id", sa.BigInteger, nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("parent_id", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Numeric(16, 2), nullable=False),
        sa.Column("changes", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.create_index("ix_ancestor_pending_node_id", "ancestor_pending", ["node_id", "grain", "metric", "period"],
                    schema=schema)
    op.execute(ancestor_trigger_sql(schema)[0])  # the function; the triggers calling it stay
    key = "node_id, grain, metric, period, population"
    op.execute(f"""
        WITH gone AS (DELETE FROM {schema}.ancestor_stat WHERE shard <> 0
                      RETURNING {key}, parent_id, value, changes)
        INSERT INTO {schema}.ancestor_stat AS a ({key}, shard, parent_id, value, changes)
        SELECT {key}, 0, max(parent_id), sum(value), sum(changes) FROM gone GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT ({key}, shard) DO UPDATE SET value = a.value + excluded.value,
                                                 changes = a.changes + excluded.changes""")
    op.drop_constraint("pk_ancestor_stat", "ancestor_stat", schema=schema)
    op.drop_column("ancestor_stat", "shard", schema=schema)
    op.create_primary_key("pk_ancestor_stat", "ancestor_stat", ["node_id", "grain", "metric", "period", "population"],
                          schema=schema)


def drop_ancestor_pending(schema: str) -> None:
    """Back to the writers' sharded upserts: what is pending folded first, every row in shard 0."""
    from migrations.sharded_rollup import ancestor_trigger_sql
    from shared.rollup import fold_sql

    op.execute(f"LOCK TABLE {schema}.daily_stat IN SHARE MODE")
    op.execute(fold_sql(schema, batch=False))
    op.drop_constraint("pk_ancestor_stat", "ancestor_stat", schema=schema)
    op.add_column("ancestor_stat", sa.Column("shard", sa.SmallInteger, server_default=sa.text("0"), nullable=False),
                  schema=schema)
    op.alter_column("ancestor_stat", "shard", server_default=None, schema=schema)
    op.create_primary_key("pk_ancestor_stat", "ancestor_stat",
                          ["node_id", "grain", "metric", "period", "population", "shard"], schema=schema)
    op.execute(ancestor_trigger_sql(schema)[0])
    op.drop_table("ancestor_pending", schema=schema)


def create_distinct_set_table(schema: str) -> None:
    """The table of distinct sets kept by ancestor and month (shared.distinct_sets.distinct_set_model)."""
    op.create_table(
        "distinct_set",
        sa.Column("node_id", sa.BigInteger, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("changes", sa.BigInteger, nullable=False),
        sa.Column("tree", sa.BigInteger, nullable=False),
        sa.Column("everyone", sa.LargeBinary, nullable=False),
        sa.Column("populations", sa.ARRAY(sa.String(40))),
        sa.Column("members", sa.ARRAY(sa.LargeBinary)),
        sa.Column("built_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "month", "kind", name="pk_distinct_set"),
        schema=schema,
    )


def drop_distinct_sets(schema: str, sets: bool = True) -> None:
    from migrations.sharded_rollup import ancestor_trigger_sql

    if sets:
        op.drop_table("distinct_set", schema=schema)
    op.execute(ancestor_trigger_sql(schema, counted=False)[0])
    op.drop_column("ancestor_stat", "changes", schema=schema)


# (name, table, key columns, INCLUDE columns, partial WHERE or None)
IndexSpec = tuple[str, str, list[str], list[str], str | None]


def create_indexes(schema: str, indexes: list[IndexSpec]) -> None:
    """IF NOT EXISTS: an operator who could not pause writes made them first, CONCURRENTLY and under
    the same names (docs/operations.md, "Upgrading a large database")."""
    for name, table, columns, include, where in indexes:
        op.execute(f'CREATE INDEX IF NOT EXISTS {name} ON "{schema}".{table} ({", ".join(columns)})'
                   + (f' INCLUDE ({", ".join(include)})' if include else "") + (f" WHERE {where}" if where else ""))


def drop_indexes(schema: str, indexes: list[IndexSpec]) -> None:
    for name, *_ in indexes:
        op.execute(f'DROP INDEX IF EXISTS "{schema}".{name}')


def create_id_notify(schema: str, table: str, function: str, channel: str, watched: str) -> None:
    """A row trigger NOTIFYing `channel` with the id of every row inserted, deleted or changed in one of
    the `watched` columns, and an empty payload on TRUNCATE: each process's notified cache
    (shared/notify.py) drops that row, or everything. INSERT too: a process that looked up an id before
    its row existed keeps no "no such row"."""
    op.execute(f"""
    CREATE FUNCTION "{schema}".{function}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            PERFORM pg_notify('{channel}', '');
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('{channel}', OLD.id::text);
        ELSE
            PERFORM pg_notify('{channel}', NEW.id::text);
        END IF;
        RETURN NULL;
    END $$;
    """)
    op.execute(f'CREATE TRIGGER trg_{table}_notify AFTER INSERT OR UPDATE OF {watched} OR DELETE '
               f'ON "{schema}"."{table}" FOR EACH ROW EXECUTE FUNCTION "{schema}".{function}()')
    op.execute(f'CREATE TRIGGER trg_{table}_notify_truncate AFTER TRUNCATE ON "{schema}"."{table}" '
               f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".{function}()')


def drop_id_notify(schema: str, table: str, function: str) -> None:
    op.execute(f'DROP TRIGGER trg_{table}_notify_truncate ON "{schema}"."{table}"')
    op.execute(f'DROP TRIGGER trg_{table}_notify ON "{schema}"."{table}"')
    op.execute(f'DROP FUNCTION "{schema}".{function}()')


# A synced table's pull reads its rows of one subtree changed in a window (shared.sync `_pull_sql`:
# station_path LIKE $1 AND change_xid in [$3, $2)). With an index on station_path alone, PostgreSQL
# visited every row of the subtree to test its change_xid: at the province a village's 2,500 service
# records, 200 pages read for the 10 that changed (13.6 ms), every table, twice in each tablet's sync.
# On (station_path, change_xid) it seeks the window under each path of the subtree (a skip scan) and
# visits only the changed rows (0.03 ms). The index serves every scope filter the old one did.
PULL_INDEX = "ix_{table}_station_path_change_xid"


def _synced_tables(schema: str, having_index: str) -> list[str]:
    """The tables of `schema` with the sync marker (change_xid) and an index named `having_index`
    (a pattern over {table})."""
    rows = op.get_bind().execute(text("""
        SELECT c.relname, array_agg(i.indexname) AS indexes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'change_xid' AND NOT a.attisdropped
        JOIN pg_indexes i ON i.schemaname = n.nspname AND i.tablename = c.relname
        WHERE n.nspname = :schema AND c.relkind = 'r'
        GROUP BY c.relname ORDER BY c.relname"""), {"schema": schema})
    return [r.relname for r in rows if having_index.format(table=r.relname) in r.indexes]


def add_pull_indexes(schema: str) -> None:
    """Every synced table's station_path index becomes PULL_INDEX (IF NOT EXISTS: an operator who
    could not pause writes built them first, CONCURRENTLY, docs/operations.md). A table made by a
    later revision calls add_pull_index itself (tests/gateway/test_pull_index.py checks that
    every synced table has it)."""
    for table in _synced_tables(schema, "ix_{table}_station_path"):
        add_pull_index(schema, table)


def drop_pull_indexes(schema: str) -> None:
    for table in _synced_tables(schema, PULL_INDEX):
        op.execute(f'CREATE INDEX "ix_{table}_station_path" ON "{schema}"."{table}" (station_path)')
        op.execute(f'DROP INDEX "{schema}"."{PULL_INDEX.format(table=table)}"')


def add_pull_index(schema: str, table: str) -> None:
    """A synced table made after the *_pull_index revisions: PULL_INDEX in place of create_record_table's
    station_path index."""
    op.execute(f'CREATE INDEX IF NOT EXISTS "{PULL_INDEX.format(table=table)}" '
               f'ON "{schema}"."{table}" (station_path, change_xid)')
    op.execute(f'DROP INDEX IF EXISTS "{schema}"."ix_{table}_station_path"')
