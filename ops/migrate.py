"""Run every lineage to head: `python -m ops.migrate [--url URL]`.

Migrations run as the role that owns the schemas: `--url`, else `<SCHEMA>_DATABASE_OWNER_URL` or
`DATABASE_OWNER_URL`, else the process's own URL (`<SCHEMA>_DATABASE_URL` or `DATABASE_URL`).
The processes run as the role of their own URL. When that is another role than the owner, it
is given what the processes need and nothing more (`grant_app_role`): rows of the tables, the
sequences, audit rows to read and add but never to change or delete (pruning goes through the
owner's prune_audit_log), and no way to change the schema. Created if it does not exist yet and
the owner may create roles, with the password of its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from shared.config import DEFAULT_DATABASE_URL
from shared.db import asyncpg_dsn

ROOT = Path(__file__).resolve().parent.parent
LINEAGES = ("gateway", "cases", "projects", "volunteers")
# The application's role where Haolin makes it itself: `make run` on the embedded server, and the tests.
APP_ROLE = "haolin_app"


def config(name: str, url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "migrations" / "alembic.ini"), ini_section=name)
    if url:
        cfg.attributes["url"] = url
    return cfg


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def process_url(name: str) -> str:
    """The URL the lineage's process connects with (its application role)."""
    return _env(f"{name.upper()}_DATABASE_URL", "DATABASE_URL") or DEFAULT_DATABASE_URL


def owner_url(name: str) -> str:
    """The URL the lineage's migrations connect with (the schema's owner)."""
    return _env(f"{name.upper()}_DATABASE_OWNER_URL", "DATABASE_OWNER_URL") or process_url(name)


def upgrade_all(url: str | None = None, app_url: str | None = None) -> None:
    """Every lineage to head as the owner (`url`, else from the environment); then the processes'
    role (`app_url`, or with no `url` the processes' URLs) is granted its rights when it is another."""
    for name in LINEAGES:
        owner = url or owner_url(name)
        command.upgrade(config(name, owner), "head")
        app = app_url if url else process_url(name)
        if app and make_url(app).username != make_url(owner).username:
            asyncio.run(grant_app_role(owner, app, name))
    # Attendance recorded before it carried person numbers needs both lineages at head (ops/person_numbers.py).
    from ops.person_numbers import number_attendance

    asyncio.run(number_attendance(url or owner_url("cases"), url or owner_url("projects")))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def grant_app_role(owner: str, app: str, schema: str) -> None:
    """What the role of `app` may do in `schema`, granted by the owner (`owner`); safe to repeat."""
    role = make_url(app).username
    password = make_url(app).password
    conn = await asyncpg.connect(asyncpg_dsn(owner))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role) is None:
            try:
                await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN"
                                   + (f" PASSWORD {_literal(password)}" if password else ""))
            except asyncpg.DuplicateObjectError:
                pass  # made by a migration running beside this one
        who, where = _ident(role), _ident(schema)
        database = await conn.fetchval("SELECT current_database()")
        statements = [
            f"GRANT CONNECT ON DATABASE {_ident(database)} TO {who}",
            f"GRANT USAGE ON SCHEMA {where} TO {who}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {where} TO {who}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
            f"REVOKE INSERT, UPDATE, DELETE ON {where}.alembic_version FROM {who}",
            # Read and add, never change or delete: the log stays whole whatever the application is made to do.
            f"REVOKE UPDATE, DELETE ON {where}.audit_log FROM {who}",
            f"GRANT EXECUTE ON FUNCTION {where}.prune_audit_log(integer) TO {who}",
        ]
        async with conn.transaction():
            for statement in statements:
                await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL to migrate as (default: DATABASE_OWNER_URL, else DATABASE_URL, "
                                      "else the embedded server)")
    args = parser.parse_args()
    upgrade_all(args.url)
    print("migrations: all lineages at head")
