"""The processes run as the application's role, the migrations as the schemas' owner.

The application's role reads and writes rows and adds audit rows, but cannot change or delete an
audit row, whatever the application is made to send, nor change the schema; old audit rows are
still pruned, through the owner's prune_audit_log.
"""

from __future__ import annotations

import os

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from ops.migrate import APP_ROLE
from ops.prune_audit import prune_all

SCHEMAS = ("gateway", "cases", "projects", "volunteers")
AUDIT_ROW = ("INSERT INTO {s}.audit_log (at, actor_id, actor_role, action, record_table, record_id) "
             "VALUES (now() - make_interval(days => $1), 'u1', 'admin', 'read', 'x', $2)")


@pytest.fixture
async def as_app(database_url):
    """A connection as the processes make theirs (DATABASE_URL)."""
    url = make_url(os.environ["DATABASE_URL"])
    assert url.username == APP_ROLE and url.database == make_url(database_url).database
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        yield conn
    finally:
        await conn.close()


class TestTheApplicationsRole:
    async def test_the_processes_connect_as_it(self, gateway, admin_headers, cases_client, projects_client,
                                               volunteers_client, db):
        for client in (cases_client, projects_client, volunteers_client):
            assert (await client.get("/readyz")).status_code == 200
        assert (await gateway.get("/v1/me", headers=admin_headers)).status_code == 200
        users = {r["usename"] for r in await db.fetch(
            "SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'haolin-%'")}
        assert users == {APP_ROLE}

    @pytest.mark.parametrize("schema", SCHEMAS)
    async def test_an_audit_row_is_added_but_never_changed_or_deleted(self, as_app, db, schema):
        await as_app.execute(AUDIT_ROW.format(s=schema), 400, "r-1")
        for statement in (f"UPDATE {schema}.audit_log SET actor_id = 'someone else'",
                          f"DELETE FROM {schema}.audit_log",
                          f"TRUNCATE {schema}.audit_log",
                          # The trigger's own loophole, the retention setting, opens nothing to this role.
                          f"SELECT set_config('haolin.audit_retention_days', '183', false); "
                          f"DELETE FROM {schema}.audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_app.execute(statement)
        assert await db.fetchval(f"SELECT actor_id FROM {schema}.audit_log") == "u1"

    async def test_the_schema_cannot_be_changed(self, as_app, db):
        for statement in ("ALTER TABLE cases.beneficiary ADD COLUMN nickname text",
                          "CREATE TABLE cases.shadow (id integer)",
                          "DROP TRIGGER trg_audit_log_guard ON gateway.audit_log",
                          "ALTER TABLE gateway.audit_log DISABLE TRIGGER trg_audit_log_guard",
                          "DROP TABLE volunteers.certificate",
                          "CREATE SCHEMA shadow",
                          "CREATE OR REPLACE FUNCTION cases.audit_log_guard() RETURNS trigger "
                          "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
                          "UPDATE projects.alembic_version SET version_num = 'projects_0001'"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_app.execute(statement)
        assert await db.fetchval("SELECT count(*) FROM information_schema.columns "
                                 "WHERE table_schema = 'cases' AND column_name = 'nickname'") == 0

    async def test_old_audit_rows_are_still_pruned(self, as_app, db):
        for schema in SCHEMAS:
            await db.execute(AUDIT_ROW.format(s=schema), 400, "old")
            await db.execute(AUDIT_ROW.format(s=schema), 10, "young")
        # ops.prune_audit connects as the processes do.
        assert await prune_all(list(SCHEMAS)) == {schema: 1 for schema in SCHEMAS}
        for schema in SCHEMAS:
            assert [r["record_id"] for r in await db.fetch(f"SELECT record_id FROM {schema}.audit_log")] == ["young"]
        # Not below six months, even asked by the application itself.
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await as_app.fetchval("SELECT cases.prune_audit_log(30)")
