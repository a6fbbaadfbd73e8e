"""Figures and sync pulls read on a real streaming standby (shared/standby.py).

The standby is copied from the embedded server with pg_basebackup from the same binaries
(ops.pg.start_standby) and streams its WAL. The platform runs as real processes, the cases
service with CASES_READ_DATABASE_URL on the standby; records are written through the gateway
on the primary. Replay is paused on the standby to make its lag as long as the test wants.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from ops import pg
from services.cases.service.stats import answer as cases_answer
from shared.config import ResourceSettings
from shared.contracts.stats.schemas import StatsQuery
from shared.contracts.sync import ndjson
from shared.db import Database, asyncpg_dsn
from tests.reliability.conftest import seed_root, start_platform
from tests.test_make_run import free_ports

pytestmark = pytest.mark.slow


def _dsn(url: str) -> str:
    return asyncpg_dsn(url)


@dataclass(frozen=True)
class Standby:
    url: str  # the test database on the standby, as the same user
    data: Path
    port: int
    primary_port: int

    async def start(self) -> None:
        await asyncio.to_thread(pg.start_standby, self.data, self.port, self.primary_port)

    async def stop(self) -> None:
        await asyncio.to_thread(pg.stop, self.data)


@pytest.fixture(scope="module")
async def standby_server(database_url):
    """A hot standby of the test database's server, streaming."""
    primary = make_url(database_url)
    port = free_ports(1)[0]
    server = Standby(primary.set(port=port).render_as_string(hide_password=False),
                     pg.ROOT / ".data" / f"test-standby-{port}", port, primary.port)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        shutil.rmtree(server.data, ignore_errors=True)


@pytest.fixture(scope="module")
def standby(standby_server) -> str:
    return standby_server.url


@pytest.fixture(scope="module")
async def platform(database_url, standby, tmp_path_factory):
    platform = await start_platform(database_url, tmp_path_factory.mktemp("standby-platform"),
                                    env={"CASES_READ_DATABASE_URL": standby})
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
async def client(platform):
    await seed_root(platform)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as c:
        r = await c.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


@pytest.fixture
async def servers(database_url, standby):
    """Superuser connections to the primary and the standby (replay control, WAL positions)."""
    primary, replica = await asyncpg.connect(_dsn(database_url)), await asyncpg.connect(_dsn(standby))
    try:
        yield primary, replica
    finally:
        if not replica.is_closed():  # a test that stops the standby closes it first
            await replica.execute("SELECT pg_wal_replay_resume()")
            await replica.close()
        await primary.close()


async def replayed(primary: asyncpg.Connection, replica: asyncpg.Connection, within_s: float = 10) -> None:
    """Until the standby has replayed everything the primary had written when this was called."""
    lsn = await primary.fetchval("SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + within_s
    while not await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", lsn):
        assert time.monotonic() < deadline, "the standby did not replay in time"
        await asyncio.sleep(0.05)


async def new_case(client: httpx.AsyncClient) -> dict:
    r = await client.post("/v1/beneficiaries", json={"name": "周大爷", "populations": ["elderly"]})
    assert r.status_code == 201, r.text
    r = await client.post("/v1/cases", json={"beneficiary_id": r.json()["id"], "title": "独居老人居家安全"})
    assert r.status_code == 201, r.text
    return r.json()


async def summary(client: httpx.AsyncClient) -> tuple[dict, datetime]:
    r = await client.get("/v1/stats/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["degraded"] == [], body
    return body, datetime.fromisoformat(body["as_of"])


def cases_new(body: dict) -> float:
    return body["figures"]["cases.new"]["value"]


async def rows_on(url: str, query: StatsQuery) -> list[dict]:
    """The cases service's counting rows, computed in this process on the server of `url`."""
    db = Database.connect(ResourceSettings(database_url=url), "haolin-tests")
    try:
        async with db.read_sessions() as session:
            return await cases_answer(session, query)
    finally:
        await db.engine.dispose()


def ordered(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))


async def internal_stats(platform, service_headers, query: StatsQuery) -> tuple[list[dict], datetime]:
    async with httpx.AsyncClient(base_url=platform.processes["cases"].url, timeout=10) as c:
        r = await c.post("/internal/stats", json=query.model_dump(mode="json", by_alias=True, exclude_none=True),
                         headers=service_headers)
    assert r.status_code == 200, r.text
    return r.json()["rows"], datetime.fromisoformat(r.json()["as_of"])


async def pull(platform, service_headers, since: str | None) -> tuple[str, set[str]]:
    """The cases service's own pull (what the gateway merges): its cursor and the ids it served."""
    async with httpx.AsyncClient(base_url=platform.processes["cases"].url, timeout=10) as c:
        r = await c.post("/internal/sync/pull", json={"station_path": "/1/", "since": since}, headers=service_headers)
    assert r.status_code == 200, r.text
    lines = r.content.splitlines()
    ids = {orjson.loads(body).get("id") if not deleted else orjson.loads(body)
           for _, body, deleted in ndjson.read_lines(lines[1:])}
    return ndjson.read_cursor(lines[0]), ids


async def primary_pull(database_url: str, since: str | None = None) -> tuple[str, set[bytes]]:
    """A pull of the root's subtree computed in this process on the primary: its cursor and its other lines."""
    from services.cases import models
    from services.cases.config import CasesSettings
    from services.cases.sync import TABLES
    from shared import crypto
    from shared.contracts.sync.schemas import PullQuery
    from shared.records import Vault
    from shared.sync import pull_lines

    settings = CasesSettings(database_url=database_url)
    vault = Vault.from_settings(settings)
    crypto.bind(models.Base.metadata, vault.cipher)  # as the cases app binds it (shared/state.py)
    db = Database.connect(settings, "haolin-tests")
    try:
        query = PullQuery(station_path="/1/", since=since)
        body = b"".join([part async for part in pull_lines(db.engine, TABLES, query, vault=vault,
                                                           departures=models.SyncDeparture)])
    finally:
        await db.engine.dispose()
    lines = body.splitlines()
    return ndjson.read_cursor(lines[0]), set(lines[1:])


class TestFiguresOnTheStandby:
    async def test_figures_read_on_the_standby_equal_the_primarys_and_as_of_shows_its_lag(
            self, platform, client, servers, database_url, standby, service_headers):
        primary, replica = servers
        today = datetime.now(UTC).date()
        query = StatsQuery(station_path="/1/", from_on=date(today.year - 1, 1, 1), to_on=date(today.year + 1, 12, 31))
        await new_case(client)
        await replayed(primary, replica)

        body, as_of = await summary(client)
        assert cases_new(body) == 1
        rows, service_as_of = await internal_stats(platform, service_headers, query)
        assert ordered(rows) == ordered(await rows_on(database_url, query)) != []
        # Caught up: as of the moment asked (to the second the gateway shows).
        assert (datetime.now(UTC) - service_as_of).total_seconds() < 5
        assert (datetime.now(UTC) - as_of).total_seconds() < 5

        # The standby stops replaying: what the primary commits from now on is not on it yet.
        await replica.execute("SELECT pg_wal_replay_pause()")
        await asyncio.sleep(1.5)
        before_write = datetime.now(UTC)
        await new_case(client)
        body, as_of = await summary(client)
        assert cases_new(body) == 1  # read on the standby, which has not replayed the second case
        assert ordered((await rows_on(database_url, query))) != ordered((await rows_on(standby, query)))
        # ...and says so: its figures are as of before the second case was written, not now.
        assert as_of < before_write
        rows, service_as_of = await internal_stats(platform, service_headers, query)
        assert service_as_of < before_write
        assert (datetime.now(UTC) - service_as_of).total_seconds() >= 1.5

        await replica.execute("SELECT pg_wal_replay_resume()")
        await replayed(primary, replica)
        body, as_of = await summary(client)
        assert cases_new(body) == 2
        rows, service_as_of = await internal_stats(platform, service_headers, query)
        assert ordered(rows) == ordered(await rows_on(database_url, query))
        assert service_as_of >= before_write
        assert as_of >= before_write.replace(microsecond=0)

    async def test_the_standby_is_where_the_figures_are_read(self, platform, client, servers, service_headers):
        _, replica = servers
        await new_case(client)
        r = await client.get("/v1/stats/summary")
        assert r.status_code == 200
        # The cases service's figure connections are the standby's (shared/standby.py names them).
        names = await replica.fetch("SELECT DISTINCT application_name FROM pg_stat_activity "
                                    "WHERE application_name LIKE 'haolin-cases%'")
        assert {n["application_name"] for n in names} == {"haolin-cases-figures"}


class TestPrimaryDown:
    async def test_figures_on_the_standby_are_as_of_its_last_replayed_commit_when_the_primary_cannot_be_asked(
            self, servers, standby, database_url):
        from sqlalchemy.ext.asyncio import async_sessionmaker

        from shared.standby import FigureReads

        primary, replica = servers
        await primary.execute("CREATE TEMP TABLE t (x int)")  # a commit for the standby to replay
        await replayed(primary, replica)
        # Nothing replayed from here on (the platform's processes may be committing meanwhile).
        await replica.execute("SELECT pg_wal_replay_pause()")
        replayed_at = await replica.fetchval("SELECT pg_last_xact_replay_timestamp()")
        await asyncio.sleep(1.1)
        # A primary that refuses connections (a free port): its WAL position cannot be read.
        gone = await asyncpg.create_pool(_dsn(make_url(database_url).set(port=free_ports(1)[0])
                                              .render_as_string(hide_password=False)), min_size=0)
        engine = Database.connect(ResourceSettings(database_url=standby), "haolin-tests").engine
        try:
            reads = FigureReads(sessions=async_sessionmaker(engine), engine=engine, primary=gone, standby=engine)
            as_of = await reads.as_of()
        finally:
            await engine.dispose()
            await gone.close()
        # Not now: as of the last commit the standby replayed, the latest it can vouch for alone.
        assert as_of == max(replayed_at, await replica.fetchval("SELECT (pg_control_checkpoint()).checkpoint_time"))
        assert (datetime.now(UTC) - as_of).total_seconds() >= 1


class TestStandbyDown:
    async def test_without_its_standby_a_services_figures_are_missing_and_its_records_still_written(
            self, platform, client, servers, standby_server):
        primary, replica = servers
        await replica.close()
        await standby_server.stop()
        try:
            await new_case(client)  # writes and record reads are the primary's
            r = await client.get("/v1/stats/summary")
            assert r.status_code == 200, r.text
            # No silent fallback to the primary: the figures of cases are missing, and said to be.
            assert r.json()["degraded"] == ["cases"]
            assert r.json()["figures"]["cases.new"]["value"] is None
            assert r.json()["figures"]["groups"]["missing"] == []
        finally:
            await standby_server.start()
        replica = await asyncpg.connect(_dsn(standby_server.url))
        try:
            await replayed(primary, replica)
        finally:
            await replica.close()
        deadline = time.monotonic() + 15
        while True:  # the service's pool drops its dead connections at their first use
            r = await client.get("/v1/stats/summary")
            if r.status_code == 200 and r.json()["degraded"] == []:
                break
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.2)
        assert cases_new(r.json()) == 1


class TestSyncPullOnTheStandby:
    async def test_a_row_committed_late_on_the_primary_is_never_skipped_by_a_pull_on_the_standby(
            self, platform, client, servers, database_url, service_headers):
        primary, replica = servers
        first = await new_case(client)
        await replayed(primary, replica)
        cursor, ids = await pull(platform, service_headers, None)
        assert first["id"] in ids

        # A transaction on the primary writes a case (its xid is now taken) and does not commit yet...
        late = await asyncpg.connect(_dsn(database_url))
        try:
            tx = late.transaction()
            await tx.start()
            await late.execute("UPDATE cases.case SET title = title || ' (复核)' WHERE id = $1", first["id"])
            # ...while a later one commits, and reaches the standby.
            second = await new_case(client)
            await replayed(primary, replica)
            cursor2, ids = await pull(platform, service_headers, cursor)
            # The pull's cut is below the open transaction: neither the open write nor the case
            # committed after it is served yet (nor is the cursor moved past them).
            assert first["id"] not in ids and second["id"] not in ids
            await tx.commit()
        finally:
            await late.close()
        await replayed(primary, replica)
        cursor3, ids = await pull(platform, service_headers, cursor2)
        assert {first["id"], second["id"]} <= ids
        assert int(cursor3) > int(cursor2) >= int(cursor)

        # Caught up, the standby's whole pull is the primary's, row for row.
        async with httpx.AsyncClient(base_url=platform.processes["cases"].url, timeout=10) as c:
            r = await c.post("/internal/sync/pull", json={"station_path": "/1/", "since": None},
                             headers=service_headers)
        on_standby = set(r.content.splitlines()[1:])
        assert len(on_standby) >= 4 and on_standby == (await primary_pull(database_url))[1]

    async def test_a_pull_on_a_standby_behind_the_previous_pull_on_the_primary_skips_nothing(
            self, platform, client, servers, database_url, service_headers):
        primary, replica = servers
        await replayed(primary, replica)
        start, _ = await pull(platform, service_headers, None)
        await replica.execute("SELECT pg_wal_replay_pause()")
        written = await new_case(client)
        # The tablet's last pull was answered on the primary (before the service had a standby)...
        ahead, lines = await primary_pull(database_url, start)
        assert any(written["id"].encode() in line for line in lines)
        # ...its next one on the standby, which has not replayed that far: nothing new, a lower cursor.
        behind, ids = await pull(platform, service_headers, ahead)
        assert ids == set() and int(behind) < int(ahead)
        await replica.execute("SELECT pg_wal_replay_resume()")
        await replayed(primary, replica)
        # The pull after serves what lies between again (as updates, to a WatermelonDB tablet): none skipped.
        _, ids = await pull(platform, service_headers, behind)
        assert written["id"] in ids

    async def test_a_pull_reads_the_standby_and_serves_what_it_has_not_replayed_later(
            self, platform, client, servers, service_headers):
        primary, replica = servers
        await replayed(primary, replica)
        cursor, _ = await pull(platform, service_headers, None)
        await replica.execute("SELECT pg_wal_replay_pause()")
        written = await new_case(client)
        cursor2, ids = await pull(platform, service_headers, cursor)
        assert written["id"] not in ids  # committed on the primary, not replayed on the standby
        await replica.execute("SELECT pg_wal_replay_resume()")
        await replayed(primary, replica)
        _, ids = await pull(platform, service_headers, cursor2)
        assert written["id"] in ids
        # The standby takes no xid of its own: the pull needs none.
        with pytest.raises(asyncpg.PostgresError, match="during recovery"):
            await replica.fetchval("SELECT pg_current_xact_id()")


class TestSettings:
    def test_read_database_url_is_for_every_service_unless_one_has_its_own(self, monkeypatch):
        from services.cases.config import CasesSettings
        from services.projects.config import ProjectsSettings
        from services.volunteers.config import VolunteersSettings

        for name in ("READ_DATABASE_URL", "CASES_READ_DATABASE_URL", "PROJECTS_READ_DATABASE_URL",
                     "VOLUNTEERS_READ_DATABASE_URL"):
            monkeypatch.delenv(name, raising=False)
        assert CasesSettings().read_database_url is None  # unset: every read on the primary
        monkeypatch.setenv("READ_DATABASE_URL", "postgresql+asyncpg://haolin_app@standby:5432/haolin")
        monkeypatch.setenv("CASES_READ_DATABASE_URL", "postgresql+asyncpg://haolin_app@cases-standby:5432/haolin")
        assert CasesSettings().read_database_url == "postgresql+asyncpg://haolin_app@cases-standby:5432/haolin"
        assert ProjectsSettings().read_database_url == "postgresql+asyncpg://haolin_app@standby:5432/haolin"
        assert VolunteersSettings().read_database_url == "postgresql+asyncpg://haolin_app@standby:5432/haolin"
