"""The per-test reset (tests/fixtures/reset.py) against the TRUNCATE ... RESTART IDENTITY CASCADE it
replaced: after rows written in every schema through the apps, each leaves the same rows in every
table (the migrations' seed rows, nothing else) and the same next value in every sequence; and a
gateway that lives on across the reset (as the replicated topology's processes do) hears of it and
forgets the stations and accounts of before."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import pytest

from gateway.config import GatewaySettings
from gateway.identity.bootstrap import ensure_admin
from shared import clock
from shared.db import Database
from tests.fixtures.calls import a_project, posted
from tests.fixtures.gateway import FAST_HASHING, users
from tests.fixtures.people import ID_BORN_1990
from tests.conftest import _plain
from tests.fixtures.reset import LOCK_TIMEOUT, SEED_SCHEMA

SCHEMAS = ("gateway", "cases", "projects", "volunteers")


async def write_everywhere(gateway, admin_headers) -> None:
    """A station tree and its people, and records of every service: rows in every schema."""
    root = (await gateway.get("/v1/stations", headers=admin_headers)).json()["items"][0]
    city = await gateway.station(admin_headers, root["id"], "city", "Chengdu")
    county = await gateway.station(admin_headers, city["id"], "county", "Chenghua")
    township = await gateway.station(admin_headers, county["id"], "township", "Mengzhuiwan")
    today = clock.today().isoformat()
    h = await users(gateway, admin_headers, {"t": township}, ("li.worker", "social_worker", "t"),
                    ("zhou.head", "station_head", "t"))
    worker, head = h["li.worker"], h["zhou.head"]
    person = await posted(gateway, "/v1/beneficiaries", {"name": "张桂芳", "populations": ["elderly"]}, worker)
    case = await posted(gateway, "/v1/cases", {"beneficiary_id": person["id"], "title": "独居老人照护"}, worker)
    await posted(gateway, f"/v1/cases/{case['id']}/service-records", {
        "served_on": today, "mode": "home_visit", "duration_minutes": 30, "content": "探访",
        "service_type": "elder_child_care"}, worker)
    project = await posted(gateway, "/v1/projects", a_project("猛追湾社工站项目"), head)
    await posted(gateway, "/v1/activities", {"project_id": project["id"], "title": "重阳节敬老活动",
                                             "held_on": today, "anonymous_count": 3,
                                             "attendees": [{"beneficiary_id": person["id"]}]}, worker)
    volunteer = await posted(gateway, "/v1/volunteers", {"name": "李志愿", "id_number": ID_BORN_1990}, worker)
    await posted(gateway, "/v1/volunteer-hours", {"volunteer_id": volunteer["id"], "served_on": today,
                                                  "hours": "2", "content": "助老送餐"}, worker)


async def database_state(db, reset) -> dict:
    """Every table's rows (in a stable order) and every owned sequence's position."""
    rows = {}
    for table in reset.tables:
        found = await db.fetch(f"SELECT * FROM {table}")
        rows[table] = sorted(tuple(str(v) for v in r.values()) for r in found)
    positions = {}
    for name, _ in reset.sequences:
        positions[name] = tuple(await db.fetchrow(f"SELECT last_value, is_called FROM {name}"))
    return {"rows": rows, "sequences": positions}


async def written_schemas(db, reset, seeded: dict) -> set[str]:
    """The schemas with a table holding more than its seed rows."""
    state = await database_state(db, reset)
    return {t.split(".")[0].strip('"') for t, r in state["rows"].items() if r != seeded["rows"][t]}


class TestTheResetEqualsTheTruncation:
    async def test_after_rows_in_every_schema_both_leave_the_same_rows_and_sequences(self, gateway_factory, db,
                                                                                    reset):
        # The embedded server's role is a superuser: the fast reset is the one in use, not its fallback
        # (which is the TRUNCATE itself, and would make this comparison hollow).
        assert reset.skip_triggers or os.environ.get("TEST_DATABASE_URL")
        seeded = await database_state(db, reset)  # this test's own start: the reset run before it

        gateway = await gateway_factory()
        await write_everywhere(gateway, await gateway.admin())
        assert await written_schemas(db, reset, seeded) == set(SCHEMAS)
        await reset()
        after_reset = await database_state(db, reset)

        gateway = await gateway_factory()  # a first start again: the admin and the root station
        await write_everywhere(gateway, await gateway.admin())
        assert await written_schemas(db, reset, seeded) == set(SCHEMAS)
        await db.execute(reset.truncating_sql)
        after_truncation = await database_state(db, reset)

        assert after_reset == after_truncation
        assert after_reset == seeded
        # Nothing but the seed rows, each as the migrations left it (the snapshot taken before any test).
        kept = {t: r for t, r in after_reset["rows"].items() if r}
        assert kept and set(kept) == {t for t in reset.tables if any(t in sql for sql in reset.restore)}
        for table, rows in kept.items():
            snapshot = f'{SEED_SCHEMA}."{table.replace(chr(34), "").replace(".", "__")}"'
            assert rows == sorted(tuple(str(v) for v in r.values()) for r in await db.fetch(f"SELECT * FROM {snapshot}"))
        # Every sequence at its start (nextval gives it next), as after RESTART IDENTITY.
        starts = [(start, False) for _, start in reset.sequences]
        assert starts and list(after_reset["sequences"].values()) == starts


async def eventually(check, within_s: float = 10.0) -> None:
    """Until `check()` is true: a notification reaches the listening gateway moments after the commit."""
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "the gateway never saw the reset"
        await asyncio.sleep(0.05)


class TestAGatewayKeptAcrossTheReset:
    async def test_forgets_the_stations_and_accounts_of_before_and_sees_those_made_after(self, gateway_factory,
                                                                                           reset):
        writer, reader = await gateway_factory(), await gateway_factory()
        admin = await writer.admin()
        root = (await writer.get("/v1/stations", headers=admin)).json()["items"][0]
        city = await writer.station(admin, root["id"], "city", "Chengdu")
        await writer.user(admin, "li.official", "official", city["id"])
        official = await reader.headers_for("li.official")
        # The reader has the city and the official in its copies (a dashboard poll reads both).
        r = await reader.get("/v1/stats/summary", headers=official)
        assert r.status_code == 200 and r.json()["station"]["name"] == "Chengdu", r.text

        await reset()
        await ensure_admin_again()
        admin = await reader.admin()

        async def city_gone() -> bool:
            r = await reader.get("/v1/stats/summary", params={"station_id": city["id"]}, headers=admin)
            return r.status_code == 404

        async def official_gone() -> bool:
            return (await reader.get("/v1/stats/summary", headers=official)).status_code == 401

        await eventually(city_gone)
        await eventually(official_gone)

        # Made after the reset, with the ids of before (the sequences restarted): seen by the reader.
        admin = await writer.admin()
        mianyang = await writer.station(admin, root["id"], "city", "Mianyang")
        assert mianyang["id"] == city["id"]
        await writer.user(admin, "zhao.official", "official", mianyang["id"])
        r = await reader.get("/v1/stats/summary", headers=await reader.headers_for("zhao.official"))
        assert r.status_code == 200 and r.json()["station"]["name"] == "Mianyang", r.text


async def ensure_admin_again() -> None:
    """The admin and the root station, as a gateway's first start makes them on an empty database."""
    settings = GatewaySettings(**FAST_HASHING)
    database = Database.connect(settings, "tests-reset-seed")
    try:
        await ensure_admin(database, settings)
    finally:
        await database.dispose()


class TestTheResetAfterAMigrationRoundTrip:
    async def test_tables_and_sequences_rebuilt_by_a_migration_are_reset_as_well(self, gateway_factory, db, reset,
                                                                              database_url):
        # A migration test (tests/cases/test_persons.py TestBackfill) downgrades and upgrades again: the
        # tables and sequences it rebuilds are new objects under the same names.
        from alembic import command

        from ops.migrate import config, upgrade_all

        seeded = await database_state(db, reset)
        # With INFO logging on, as the migrations' env.py may set it from alembic.ini: alembic names
        # each step on its log line (tests/reliability/test_migrations.py, the steps' names).
        try:
            await asyncio.to_thread(command.downgrade, config("cases", database_url), "cases_0003")
        finally:
            await asyncio.to_thread(upgrade_all, database_url, os.environ["DATABASE_URL"])
        gateway = await gateway_factory()
        await write_everywhere(gateway, await gateway.admin())
        assert await written_schemas(db, reset, seeded) == set(SCHEMAS)

        await reset()
        assert await database_state(db, reset) == seeded


class TestATransactionLeftOpen:
    async def test_is_ended_and_the_reset_goes_on(self, gateway_factory, db, reset, database_url):
        # As a service frozen (SIGSTOP) in the middle of a write leaves it: a row written, not committed,
        # its table locked against the reset for as long as the process stays frozen.
        seeded = await database_state(db, reset)
        gateway = await gateway_factory()
        await write_everywhere(gateway, await gateway.admin())
        left = await asyncpg.connect(_plain(database_url), server_settings={"application_name": "haolin-frozen"})
        try:
            await left.execute("BEGIN")
            await left.execute("UPDATE cases.beneficiary SET name = name")
            reset.lock_timeout = "200ms"
            try:
                await asyncio.wait_for(reset(), timeout=30)
            finally:
                reset.lock_timeout = LOCK_TIMEOUT
            assert await database_state(db, reset) == seeded
            with pytest.raises((asyncpg.ConnectionDoesNotExistError, asyncpg.AdminShutdownError,
                                asyncpg.InterfaceError)):
                await left.fetchval("SELECT 1")
        finally:
            left.terminate()
