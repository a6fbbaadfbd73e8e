"""Station tablets as a stock WatermelonDB 0.28 app runs them (tests/watermelon.py), against the
gateway: the local schema built from /v1/sync/schema, what a tablet holds after syncing, and
what its whole-row pushes do to records others corrected."""

from __future__ import annotations

import pytest

from tests.gateway.test_sync_flow import settle
from tests.watermelon import (HaolinBackend, LocalDatabase, Migration, Tablet, WatermelonError, add_columns,
                              create_table, schema_from_server, schema_migrations)


def doc_migrations(v2: dict):
    """The migrations docs/sync.md shows: from version 1 to 2, the referrals table and the
    service records' resources_yuan column (the columns as the version-2 schema serves them)."""
    tables = {t["name"]: t for t in v2["tables"]}
    resources = [c for c in tables["service_records"]["columns"] if c["name"] == "resources_yuan"]
    return schema_migrations([Migration(2, (create_table("referrals", tables["referrals"]["columns"]),
                                            add_columns("service_records", resources)))])


async def served_schema(gateway, version: int | None = None) -> dict:
    r = await gateway.get("/v1/sync/schema", params={"version": version} if version else None)
    assert r.status_code == 200, r.text
    return r.json()


async def new_tablet(gateway, db, credential: str, version: int = 2) -> Tablet:
    """A fresh install of the app at schema `version`, its schema mapped from the server's."""
    schema = await served_schema(gateway, version)
    migrations = doc_migrations(await served_schema(gateway, 2)) if version == 2 else schema_migrations([])
    return Tablet(LocalDatabase(schema_from_server(schema), migrations),
                  HaolinBackend(gateway, credential, before_pull=lambda: settle(db)))


async def register_tablet(gateway, head: dict, station_id: int, name: str = "平板") -> str:
    r = await gateway.post("/v1/devices", headers=head, json={"station_id": station_id, "name": name})
    assert r.status_code == 201, r.text
    return r.json()["credential"]


@pytest.fixture
async def township(gateway, admin, tree) -> dict:
    """The township with its head and a social worker logged in."""
    station = tree["mengzhuiwan"]
    await gateway.user(admin, "chen.head", "station_head", station["id"])
    await gateway.user(admin, "li.worker", "social_worker", station["id"])
    await gateway.app.state.pusher.sync_now()
    return {**station, "head": await gateway.headers_for("chen.head"),
            "worker": await gateway.headers_for("li.worker")}


class TestLocalSchema:
    async def test_every_table_of_every_version_passes_appschema(self, gateway):
        """The development build of WatermelonDB checks each column as tableSchema() builds it:
        reserved and unsafe names, the three types, created_at/updated_at numbers and not optional."""
        for version in (1, 2):
            served = await served_schema(gateway, version)
            for table in served["tables"]:
                try:
                    schema_from_server({"version": version, "tables": [table]})
                except WatermelonError as exc:
                    pytest.fail(f"version {version}, table {table['name']}: {exc}")
                stamps = {c["name"]: c for c in table["columns"] if c["name"] in ("created_at", "updated_at")}
                assert set(stamps) == {"created_at", "updated_at"}, table["name"]

    async def test_the_documented_migration_is_what_version_2_added(self, gateway):
        """A fresh install at version 2 with migrationsEnabledAtVersion: 1 needs the 1 -> 2 migration
        (WatermelonDB refuses migrations that do not reach the schema's version): the one the
        docs show adds exactly what the server says version 2 added."""
        v1, v2 = await served_schema(gateway, 1), await served_schema(gateway, 2)
        old = {t["name"]: {c["name"] for c in t["columns"]} for t in v1["tables"]}
        new = {t["name"]: {c["name"] for c in t["columns"]} for t in v2["tables"]}
        added_tables = set(new) - set(old)
        added_columns = {t: new[t] - old[t] for t in old if new[t] - old[t]}
        migrations = doc_migrations(v2)
        steps = migrations.migrations[0].steps
        assert {s["schema"].name for s in steps if s["type"] == "create_table"} == added_tables == {"referrals"}
        assert {s["table"]: {c["name"] for c in s["columns"]} for s in steps if s["type"] == "add_columns"} == \
            added_columns == {"service_records": {"resources_yuan"}}
        with pytest.raises(WatermelonError, match="Missing migration"):
            LocalDatabase(schema_from_server(v2), schema_migrations([]))
        LocalDatabase(schema_from_server(v2), migrations)
