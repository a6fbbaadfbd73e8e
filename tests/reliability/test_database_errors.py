"""Which database errors mean "unavailable, retry" (503) and which are bugs (500)."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from shared.app import build_app
from shared.config import ServiceSettings
from shared.db import database_unavailable


def wrapped(cause: BaseException, invalidated: bool = False) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver error: its own class, the driver's error as the cause."""
    try:
        raise sa_exc.DBAPIError("SELECT 1", {}, cause, connection_invalidated=invalidated) from cause
    except sa_exc.DBAPIError as error:
        return error


class TestDatabaseUnavailable:
    def test_connection_losses_are_unavailable(self):
        assert database_unavailable(ConnectionRefusedError(111, "refused"))
        assert database_unavailable(asyncpg.exceptions.AdminShutdownError("terminating connection"))
        assert database_unavailable(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
        assert database_unavailable(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
        assert database_unavailable(wrapped(asyncpg.InterfaceError("connection is closed")))
        assert database_unavailable(wrapped(Exception("whatever the driver said"), invalidated=True))
        assert database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
        # A raw-pool connection cut mid-statement by a restart leaves asyncpg's protocol mid-operation.
        assert database_unavailable(asyncpg.InternalClientError("cannot switch to state 12; another operation (2) "
                                                                "is in progress"))

    def test_errors_of_the_request_itself_are_not(self):
        assert not database_unavailable(wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")))
        assert not database_unavailable(asyncpg.exceptions.UndefinedColumnError("column x does not exist"))
        assert not database_unavailable(asyncpg.InterfaceError("another operation is in progress"))
        assert not database_unavailable(FileNotFoundError(2, "no such file"))


class TestAnswers:
    async def test_unavailable_is_503_problem_and_a_bug_stays_500(self):
        app: FastAPI = build_app(title="t", service="t", settings=ServiceSettings(), lifespan=None)

        @app.get("/down")
        async def down():
            raise wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection"))

        @app.get("/bug")
        async def bug():
            raise wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key value: 张三"))

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/down")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "2"
            assert r.json()["type"].endswith("/database-unavailable")
            r = await client.get("/bug")
            assert r.status_code == 500
            assert r.headers["content-type"] == "application/problem+json"
            assert "张三" not in r.text
