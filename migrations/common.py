"""Helpers the lineages share: the async runner and the sync-marker trigger."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import async_engine_from_config

from shared.config import DEFAULT_DATABASE_URL


def database_url(schema: str) -> str:
    cfg = context.config
    return (cfg.attributes.get("url") or os.environ.get(f"{schema.upper()}_DATABASE_URL")
            or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


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
