"""A process's background steps (the rollup's fold, the sweep of abandoned push parts): one step every
so often on a database connection of its own, outside the pools whose statements the request paths
count on, until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg


async def every(dsn: str, application_name: str, every_s: float, step: Callable[[asyncpg.Connection], Awaitable],
                failed: Callable[[BaseException], None]) -> None:
    """`step(conn)` every `every_s`. A failure is told to `failed` (which logs it by its type, never
    the connection string) and the step tried again next time on a new connection."""
    conn = None
    try:
        while True:
            await asyncio.sleep(every_s)
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(dsn, timeout=5, server_settings={"application_name": application_name})
                await step(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                failed(exc)
                if conn is not None:
                    conn.terminate()
                    conn = None
    finally:
        if conn is not None:
            conn.terminate()


def logged(log: logging.Logger, message: str, *args) -> Callable[[BaseException], None]:
    """A `failed` that warns `message % (*args, the error's type name)`."""
    return lambda exc: log.warning(message, *args, type(exc).__name__)
