"""What the commands share: the settings the processes use, the gateway's database, the
operator as a principal, station lookup, and the way a domain error reaches the terminal.

Identity commands (stations, users, devices) run the gateway's own service functions on its
database, so they work while the platform is down and obey the same rules as the API. A
station written this way carries a new change_seq like one written through the API: the
gateway's station pusher reads "every station after the services' cursor" from the database
every GATEWAY_STATION_PUSH_INTERVAL_S (gateway/replication.py), so the services' replicas
learn it within that interval, or at the gateway's next start when it is down.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import GatewaySettings
from gateway.identity.bootstrap import ensure_admin
from gateway.identity.repository import stations as stations_repo
from gateway.models import Station
from ops.cli import repository
from shared.principals import Principal, Role
from shared.db import Database, database_unavailable
from shared.errors import AppError, InvalidInput

T = TypeVar("T")

console = Console(soft_wrap=True)  # passwords and credentials must stay on one copyable line
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Per invocation; tests hand in a transport that reaches in-process apps."""

    transport: httpx.AsyncBaseTransport | None = None


class CliError(Exception):
    """A failure the operator can act on: printed without a traceback, exit code 1."""


def settings() -> GatewaySettings:
    """The gateway's settings from the environment, as `make run` gives them. Without any
    DATABASE_URL, the embedded server of .data/pg: on the port the running `make run` uses
    (.data/run.json), or the one that server was started on, or HAOLIN_PG_PORT, where it is started
    if it is not running."""
    if os.environ.get("GATEWAY_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        return GatewaySettings(db_pool_size=2, db_max_overflow=2)
    from ops import pg, runfile

    running = runfile.read()
    port = (running and running.pg_port) or pg.running_port() or pg.DEFAULT_PORT
    try:
        url = pg.url(port) if pg.is_running(port) else pg.start(port=port)
    except pg.PgError as exc:
        raise CliError(str(exc)) from None
    return GatewaySettings(database_url=url, db_pool_size=2, db_max_overflow=2)


def operator_name() -> str:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "operator"
    return f"cli:{login}"[:64]


@asynccontextmanager
async def gateway_db(cfg: GatewaySettings | None = None) -> AsyncIterator[tuple[Database, GatewaySettings]]:
    cfg = cfg or settings()
    db = Database.connect(cfg, "haolin-cli")
    try:
        # What the gateway's first start does, so a fresh installation can be set up before it:
        # the root station and the admin (whose generated password is printed once, never logged).
        await ensure_admin(db, cfg)
        yield db, cfg
    finally:
        await db.dispose()


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """One transaction, committed when the block ends without error (as the API's request
    dependency does), rolled back otherwise."""
    async with db.write_sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def as_operator() -> AsyncIterator[tuple[AsyncSession, Principal, GatewaySettings]]:
    """One transaction on the gateway's database (see transaction), acting as the operator."""
    async with gateway_db() as (db, cfg), transaction(db) as session:
        yield session, await operator(session), cfg


async def operator(session: AsyncSession) -> Principal:
    """The operator acts as an administrator of the whole tree (the first root station)."""
    root = await stations_repo.first_root(session)
    if root is None:
        raise CliError("The database has no root station.")
    return Principal(user_id=operator_name(), role=Role.admin, station_id=root.id, station_path=root.path,
                     name="operator")


async def find_station(session: AsyncSession, ref: str) -> Station:
    """A live station by division code, or by id; `root` is the root station."""
    ref = ref.strip()
    if ref == "root":
        root = await stations_repo.first_root(session)
        if root is not None:
            return root
    station = await repository.station_by_code(session, ref)
    if station is None and ref.isdigit():
        station = await stations_repo.get_live(session, int(ref))
    if station is None:
        raise CliError(f"No station with code or id {ref!r}.")
    return station


def validated(model: type[T], **values) -> T:
    """The API's request model built from options; a bad value fails as the API would (422, the field named)."""
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        raise InvalidInput.field(field, first["msg"]) from None


def describe(exc: AppError) -> str:
    """A domain error as one line per problem, the way the API's problem+json names them."""
    lines = [exc.detail]
    for item in exc.errors or []:
        field, message = item.get("field"), item.get("message")
        if field and message and message != exc.detail:
            lines.append(f"  {field}: {message}")
        elif field and message == exc.detail:
            lines[0] = f"{field}: {message}"
    return "\n".join(lines)


def fail(message: str) -> typer.Exit:
    """Print an operator-facing failure (no traceback) and answer the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; operator-facing failures exit 1 with a message, no traceback."""
    try:
        return asyncio.run(work())
    except CliError as exc:
        raise fail(str(exc)) from None
    except AppError as exc:
        raise fail(describe(exc)) from None
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        raise fail(f"cannot reach the database ({type(exc).__name__}): is it running? Without DATABASE_URL "
                   "the CLI uses the embedded one of .data/pg (make db-start starts it)") from None
