"""What the migrations run to make each process's audit table and keep it append-only.

The table is append-only to the application: a trigger (`guard_sql`) refuses every UPDATE, and
every DELETE except of rows older than the retention, which `prune_function_sql`'s function sets
for its own transaction and which can never be under 183 days (DOMAIN.md: kept at least 6 months).

`create_audit_log` spells the table out rather than deriving it from model.py: a migration makes
the table as it was when the migration was written, so a column the model gains later is added by
a later migration, not by this one.
"""

from __future__ import annotations

from shared.audit.model import MIN_RETENTION_DAYS


def guard_sql(schema: str) -> list[str]:
    """The trigger that keeps `schema`.audit_log append-only (see the module docstring)."""
    return [f"""
    CREATE OR REPLACE FUNCTION "{schema}".audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        keep_days integer := NULLIF(current_setting('haolin.audit_retention_days', true), '')::integer;
    BEGIN
        IF TG_OP = 'DELETE' AND keep_days >= {MIN_RETENTION_DAYS}
           AND OLD.at < now() - make_interval(days => keep_days) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    """, f"""
    CREATE TRIGGER trg_audit_log_guard BEFORE UPDATE OR DELETE ON "{schema}".audit_log
    FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_guard()
    """]


def prune_function_sql(schema: str) -> list[str]:
    """`schema`.prune_audit_log(keep_days): the one way to delete audit rows. It runs as the schema's
    owner (SECURITY DEFINER), so the application's role, which may not DELETE from audit_log at all,
    can prune through it (ops.prune_audit), never rows younger than the retention or 183 days."""
    return [f"""
    CREATE FUNCTION "{schema}".prune_audit_log(keep_days integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        deleted bigint;
    BEGIN
        IF keep_days IS NULL OR keep_days < {MIN_RETENTION_DAYS} THEN
            RAISE EXCEPTION 'audit rows are kept at least {MIN_RETENTION_DAYS} days' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM set_config('haolin.audit_retention_days', keep_days::text, true);
        DELETE FROM "{schema}".audit_log WHERE at < now() - make_interval(days => keep_days);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        RETURN deleted;
    END $$
    """, f'REVOKE ALL ON FUNCTION "{schema}".prune_audit_log(integer) FROM PUBLIC']


def drop_prune_function(op, schema: str) -> None:
    op.execute(f'DROP FUNCTION "{schema}".prune_audit_log(integer)')


def create_audit_log(op, schema: str) -> None:
    import sqlalchemy as sa

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("operation", sa.String(80)),
        sa.Column("record_table", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("station_path", sa.String(255, collation="C")),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=schema,
    )
    op.create_index("ix_audit_log_record", "audit_log", ["record_table", "record_id", "at"], schema=schema)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id", "at"], schema=schema)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], schema=schema)
    for statement in guard_sql(schema):
        op.execute(statement)


def drop_audit_log(op, schema: str) -> None:
    op.drop_table("audit_log", schema=schema)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".audit_log_guard()')
