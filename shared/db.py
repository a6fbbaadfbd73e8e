"""Engines, sessions and the raw read pool.

Two engines share one URL: a transactional one for writes (the request dependency
commits or rolls back; nothing else calls commit) and an autocommit one for reads,
which saves the BEGIN and ROLLBACK round trips a read-only request would otherwise
pay on the hot path.

Reads of one record by id, the busiest requests, skip SQLAlchemy: `Database.start`
also opens a plain asyncpg pool on the same URL (`read_pool`), on which a repository
runs one constant SELECT whose prepared statement each connection caches. The ORM
path costs about 1 ms of CPU per read in building the statement, compiling-cache
lookups, greenlet adaption and loading the object (bench/README.md, "Case read by id").

A service's figure reads may go to a streaming standby instead: shared/standby.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.config import ServiceSettings
from shared.errors import TYPE_BASE, problem_response


def _json_dumps(value) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: ServiceSettings, application_name: str, url: str | None = None, **kwargs) -> AsyncEngine:
    """An engine on `url` (default: settings.database_url), sized and set up by `settings`."""
    return create_async_engine(
        url or settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        # A failed statement's error carries the statement but not its parameters: those are the
        # row's names, ciphertexts, blind indexes and station paths, and errors end up in logs.
        hide_parameters=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"application_name": application_name, "timezone": "UTC"}},
        **kwargs,
    )


# Query parameters of SQLAlchemy's asyncpg dialect that asyncpg itself would send to the
# server as settings (and fail on).
_DIALECT_ONLY_PARAMS = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback")


def asyncpg_dsn(database_url: str) -> str:
    """The plain postgresql:// DSN asyncpg takes, from a SQLAlchemy URL (postgresql+asyncpg://...)."""
    url = make_url(database_url)
    url = url.set(drivername="postgresql").difference_update_query(_DIALECT_ONLY_PARAMS)
    return url.render_as_string(hide_password=False)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns as Python values, as the engine's json_deserializer gives them.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=_json_dumps, decoder=orjson.loads)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (pg_advisory_unlock_all, CLOSE ALL, UNLISTEN *,
    RESET ALL): a second round trip per read. The read pool runs single SELECTs that leave no
    session state behind; an open transaction is still rolled back by asyncpg before this runs."""


async def open_read_pool(settings: ServiceSettings, application_name: str, *,
                         query_logger: Callable[[asyncpg.connection.LoggedQuery], None] | None = None) -> asyncpg.Pool:
    """asyncpg pool for single statements in autocommit: reads, and the odd one-statement write such as
    a pull's timestamp (gateway/identity/repository/hot.py). No transactions, no SET, LISTEN or locks
    held past the statement: the connections go back to the pool without a reset. Up to
    `db_pool_size` connections, opened as load needs them and kept: under many clients requests
    queue for a connection instead of opening and closing overflow ones. The default statement cache keeps each query prepared.
    `query_logger` sees every statement the pool's connections run (tests count them)."""

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if query_logger is not None:
            conn.add_query_logger(query_logger)

    return await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url),
        min_size=1,
        max_size=max(1, settings.db_pool_size),
        init=init,
        reset=_keep_session,
        server_settings={"application_name": f"{application_name}-read", "timezone": "UTC"},
    )


@dataclass
class Database:
    engine: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    # Opened by `start` (async), not by `connect`: single statements on the hot path (open_read_pool).
    read_pool: asyncpg.Pool | None = None
    # The first statement of every request's write transaction (write_session), before it locks
    # anything: a service's shared lock against its station replica moving (shared.stations).
    write_guard: str | None = None

    @classmethod
    def connect(cls, settings: ServiceSettings, application_name: str, *, write_guard: str | None = None) -> "Database":
        engine = make_engine(settings, application_name)
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(
            engine=engine,
            write_sessions=async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
            read_sessions=async_sessionmaker(reader, expire_on_commit=False, autoflush=False),
            write_guard=write_guard,
        )

    @classmethod
    async def start(cls, settings: ServiceSettings, application_name: str, *,
                    write_guard: str | None = None) -> "Database":
        """`connect`, plus the raw read pool; for a lifespan whose hot-path reads use `read_pool`."""
        db = cls.connect(settings, application_name, write_guard=write_guard)
        try:
            db.read_pool = await open_read_pool(settings, application_name)
        except BaseException:
            await db.engine.dispose()
            raise
        return db

    async def dispose(self) -> None:
        if self.read_pool is not None:
            await self.read_pool.close()
        await self.engine.dispose()


# A POST sent with an Idempotency-Key (shared.idempotency.Claim, put in the request's scope by
# its middleware): a create's transaction is opened by it and committed with the stored answer.
IDEMPOTENCY_CLAIM = "haolin.idempotency"


class CommitAnyway(Exception):
    """Mixin for errors whose writes must stand although the request fails
    (a failed login counted toward a lock, a stolen token's family revoked)."""


@asynccontextmanager
async def transaction(request: Request, first: str | None) -> AsyncIterator[AsyncSession]:
    """A request's write transaction, `first` its first statement: committed when the body ends,
    rolled back on error (except a CommitAnyway error, whose writes are committed before it is answered).
    A create sent with an Idempotency-Key is committed by shared.idempotency together with the answer
    it keeps, also before the answer leaves."""
    db: Database = request.app.state.db
    claim = request.scope.get(IDEMPOTENCY_CLAIM)
    if claim is not None and claim.covers(request):
        async with claim.transaction(request, db, first) as session:
            yield session
        return
    async with db.write_sessions() as session:
        session.info["request"] = request  # who writes, for the audit log (shared.audit)
        try:
            if first:
                await session.execute(text(first))
            yield session
            await session.commit()
        except CommitAnyway:
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request (`transaction`), opened with the process's write guard.

    Use with Depends(..., scope="function") so the commit happens before the response
    is sent: a failed commit must reach the client as an error, not a 2xx.
    """
    async with transaction(request, request.app.state.db.write_guard) as session:
        yield session


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under `session`, inside its open transaction: a lean write path runs its
    prepared statements there (asyncpg caches them per connection), so they commit or roll back with
    the request's other writes, its Idempotency-Key answer and its write guard. What the session has
    not flushed yet is flushed first, so the raw statements see it."""
    await session.flush()
    conn = await session.connection()
    if not conn.in_transaction() or not (await conn.get_raw_connection()).driver_connection.is_in_transaction():
        # The session's BEGIN is sent with its first statement: a write transaction has run its
        # write guard already, but one without a guard has not.
        await conn.execute(text("SELECT 1"))
    return (await conn.get_raw_connection()).driver_connection


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.read_sessions() as session:
        yield session


# The database is down, restarting, refusing connections or out of them: the request may be
# retried as it was. Anything else (a constraint, a bad query) is a bug or a domain error.
_UNAVAILABLE = (
    ConnectionError,  # refused or reset: the server is down
    TimeoutError,  # asyncpg's connect timeout
    asyncpg.PostgresConnectionError,  # class 08, connection exceptions
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-57P03: shut down, crashed, starting up
    asyncpg.exceptions.TooManyConnectionsError,
    sa_exc.TimeoutError,  # every pooled connection busy for pool_timeout
    # The server cut a raw-pool connection in the middle of a statement: asyncpg's protocol is left
    # mid-operation ("cannot switch to state 12; another operation is in progress"), and the pool
    # replaces the connection. Seen when PostgreSQL restarts under load (tests/reliability).
    asyncpg.InternalClientError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says the database cannot be reached right now."""
    for _ in range(8):  # SQLAlchemy wraps the driver's error, which may wrap the socket's
        if isinstance(exc, _UNAVAILABLE):
            return True
        # SQLAlchemy has recognised a dead connection (and invalidated the pool's older ones).
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        if exc is None:
            return False
    return False


def unavailable_problem(path: str) -> dict:
    """The 503 problem of a database that cannot be reached (answered with Retry-After: 2)."""
    return {"type": TYPE_BASE + "database-unavailable", "title": "Service unavailable", "status": 503,
            "detail": "The database cannot be reached right now; try again shortly.", "instance": path}


def unavailable_response(path: str) -> JSONResponse:
    """503 problem+json with Retry-After: the request may be sent again as it was."""
    return problem_response(unavailable_problem(path), {"Retry-After": "2"})


def install_unavailable_handler(app: FastAPI) -> None:
    """A lost database answers 503 problem+json (with Retry-After) instead of a 500 and a traceback.

    Nothing to reconnect by hand: SQLAlchemy invalidates the pool's connections once one is found
    dead, and asyncpg's read pool replaces closed connections when they are next acquired, so the
    requests after the database is back succeed on fresh connections."""

    async def unavailable(request: Request, exc: Exception):
        if not database_unavailable(exc):
            raise exc  # to the catch-all 500 handler, as if this one were not here
        return unavailable_response(request.url.path)

    for exc_type in (OSError, sa_exc.SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError,
                     asyncpg.InternalClientError):
        app.add_exception_handler(exc_type, unavailable)
