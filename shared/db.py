"""Engines and sessions.

Two engines share one URL: a transactional one for writes (the request dependency
commits or rolls back; nothing else calls commit) and an autocommit one for reads,
which saves the BEGIN and ROLLBACK round trips a read-only request would otherwise
pay on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.config import ServiceSettings


def _json_dumps(value) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: ServiceSettings, application_name: str, **kwargs) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"application_name": application_name, "timezone": "UTC"}},
        **kwargs,
    )


@dataclass
class Database:
    engine: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, settings: ServiceSettings, application_name: str) -> "Database":
        engine = make_engine(settings, application_name)
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(
            engine=engine,
            write_sessions=async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
            read_sessions=async_sessionmaker(reader, expire_on_commit=False, autoflush=False),
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


class CommitAnyway(Exception):
    """Mixin for errors whose writes must stand although the request fails
    (a failed login counted toward a lock, a stolen token's family revoked)."""


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error
    (except a CommitAnyway error, whose writes are committed before it is answered).

    Use with Depends(..., scope="function") so the commit happens before the response
    is sent: a failed commit must reach the client as an error, not a 2xx.
    """
    db: Database = request.app.state.db
    async with db.write_sessions() as session:
        try:
            yield session
            await session.commit()
        except CommitAnyway:
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.read_sessions() as session:
        yield session
