"""Test harness: a real PostgreSQL database built by the real migrations.

The database is `haolin_test` on the embedded server (started if needed), or the one
TEST_DATABASE_URL names; it is dropped and rebuilt once per run. Every test starts
from empty tables with the migrations' seed rows (emptied, not rolled back, because the apps
under test run their own transactions, several processes' worth, exactly as in production:
tests/fixtures/reset.py).

Apps run in-process behind httpx's ASGI transport; the gateway's upstream clients are
wired to the in-process services, so a cross-service test exercises the real apps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from ops.keys import generate_signing_pair
from shared.crypto import generate_key
from tests.fixtures.reset import Reset

# The suites' shared fixtures (tests/fixtures/): the station tree, the callers by role, a real gateway.
pytest_plugins = ["tests.fixtures.stations", "tests.fixtures.roles", "tests.fixtures.topology",
                  "tests.fixtures.gateway", "tests.fixtures.calls"]

# The environment the run was started with, before the settings below: what a nested run starts from
# (tests/test_topology.py).
STARTED_WITH = dict(os.environ)

SCHEMAS = ("gateway", "cases", "projects", "volunteers")
# One database per test run, so concurrent runs (two developers' shells, CI beside
# `make run`) never drop each other's database.
TEST_DB = f"haolin_test_{os.getpid()}"
# The services' attachments (shared/attachments) go to a folder of this run, removed at its end.
TEST_FILES = os.path.join(tempfile.gettempdir(), f"haolin-test-files-{os.getpid()}")

_private, _public = generate_signing_pair()
os.environ.update({
    "JWT_PUBLIC_KEY": _public,
    "JWT_PRIVATE_KEY": _private,
    "FIELD_ENCRYPTION_KEYS": f"k1:{generate_key()}",
    "BLIND_INDEX_KEY": "test-blind-index-key",
    "ADMIN_PASSWORD": "admin-test-password",
    "STORAGE_URL": f"file://{TEST_FILES}",
})


_started_server = False


def _test_url() -> str:
    global _started_server
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL")
    if not base:
        from ops import pg

        # A server `make run` of this checkout left running is reused and left alone; one we start, we
        # stop. Another checkout's server on the usual port is left alone: this run starts its own on a
        # free port, and every process it starts inherits that port.
        pg.DEFAULT_PORT = pg.own_port()
        os.environ["HAOLIN_PG_PORT"] = str(pg.DEFAULT_PORT)
        _started_server = not pg.is_running()
        base = pg.start()
    return make_url(base).set(database=TEST_DB).render_as_string(hide_password=False)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_FILES, ignore_errors=True)
    if _started_server and not _other_runs_alive():
        from ops import pg

        pg.stop()


def _other_runs_alive() -> bool:
    """Another test run (its own haolin_test_<pid> database) still uses the server we started."""
    from ops import pg

    async def check() -> bool:
        conn = await asyncpg.connect(_plain(pg.url(database="postgres")))
        try:
            names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'haolin\\_test\\_%'")
        finally:
            await conn.close()
        pids = [n["datname"].rsplit("_", 1)[-1] for n in names]
        return any(p.isdigit() and int(p) != os.getpid() and os.path.exists(f"/proc/{p}") for p in pids)

    try:
        return asyncio.run(check())
    except (OSError, asyncpg.PostgresError):
        return False


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    url = _test_url()
    target = make_url(url)
    admin = await asyncpg.connect(_plain(target.set(database="postgres").render_as_string(hide_password=False)))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            target.database,
        )
        await _drop_stale_test_databases(admin)
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}"')
        await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()
    from ops.migrate import APP_ROLE, upgrade_all

    # The apps run as the application's role, as `make run` runs them: no schema changes, no changes to
    # audit rows. The fixture's URL (the owner's) is for the harness and the tests' own reads.
    app_url = target.set(username=APP_ROLE).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade_all, url, app_url)
    os.environ["DATABASE_OWNER_URL"] = url
    os.environ["DATABASE_URL"] = app_url
    yield url
    admin = await asyncpg.connect(_plain(target.set(database="postgres").render_as_string(hide_password=False)))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()


async def _drop_stale_test_databases(admin: asyncpg.Connection) -> None:
    """Databases of earlier runs whose process is gone (killed before cleaning up)."""
    for row in await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'haolin\\_test\\_%'"):
        pid = row["datname"].rsplit("_", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def reset(database_url: str) -> AsyncIterator[Reset]:
    """Empties every table and puts back the rows the migrations seeded (tests/fixtures/reset.py), on one
    connection kept for the run."""
    fast = await Reset.prepare(_plain(database_url), SCHEMAS)
    try:
        yield fast
    finally:
        await fast.close()


@pytest.fixture(autouse=True)
async def clean_database(reset: Reset) -> AsyncIterator[None]:
    await reset()
    yield


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second reader: what is really stored, read outside the apps."""
    conn = await asyncpg.connect(_plain(database_url))
    try:
        yield conn
    finally:
        await conn.close()


async def _started(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client


class GatewayRelay:
    """What the services reach as "the gateway" here (shared/contracts/lookup): a lookup on a service's
    path goes to that in-process service, as the gateway's proxy forwards it (PROXIED_PREFIXES);
    the gateway's own routes (GET /v1/users/{id}) go to the gateway app a test has started, if any.
    A service not started yet answers 503, naming the fixture a test needs."""

    def __init__(self) -> None:
        self.services: dict[str, object] = {}
        self.gateway = None

    async def __call__(self, scope, receive, send) -> None:
        from gateway.upstream import PROXIED_PREFIXES

        path = scope.get("path", "")
        owner = next((s for p, s in PROXIED_PREFIXES.items() if path == p or path.startswith(p + "/")), None)
        app = self.services.get(owner) if owner else self.gateway
        if app is None:
            body = f'{{"title": "{owner or "gateway"} not started in this test"}}'.encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/problem+json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)


@pytest.fixture(scope="session")
def relay() -> GatewayRelay:
    return GatewayRelay()


def _through(relay: GatewayRelay) -> dict[str, httpx.AsyncBaseTransport]:
    return {"gateway": httpx.ASGITransport(app=relay)}


@pytest.fixture(scope="session")
async def cases_app(database_url: str, relay):
    from services.cases.app import create_app
    from services.cases.config import CasesSettings

    # The suites test the case lifecycle without supervisors: no step needs approval unless a test
    # sets a rule, or restores the platform's default (tests/cases/test_approvals.py).
    return create_app(CasesSettings(approval_default_steps=""), transports=_through(relay))


@pytest.fixture(scope="session")
async def projects_app(database_url: str, relay):
    from services.projects.app import create_app

    return create_app(transports=_through(relay))


@pytest.fixture(scope="session")
async def volunteers_app(database_url: str, relay):
    from services.volunteers.app import create_app

    return create_app(transports=_through(relay))


@pytest.fixture(scope="session")
async def running_services(cases_app, projects_app, volunteers_app, relay
                           ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The three services started together: a record naming another service's record is checked
    with its owner, which must be running (through `relay`)."""
    apps = {"cases": cases_app, "projects": projects_app, "volunteers": volunteers_app}
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            clients[name] = await stack.enter_async_context(contextlib.asynccontextmanager(_started)(app))
            clients[name].app = app
            relay.services[name] = app
        yield clients
        relay.services.clear()


@pytest.fixture(scope="session")
async def cases_client(running_services) -> httpx.AsyncClient:
    return running_services["cases"]


@pytest.fixture(scope="session")
async def projects_client(running_services) -> httpx.AsyncClient:
    return running_services["projects"]


@pytest.fixture(scope="session")
async def volunteers_client(running_services) -> httpx.AsyncClient:
    return running_services["volunteers"]
