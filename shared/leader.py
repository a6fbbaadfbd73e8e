"""One leader among a process's workers and replicas: a PostgreSQL session-level advisory lock.

A job that must run once for the whole deployment (the gateway's station pusher) asks `leads()`
before each round. The lock is held by a connection of its own, opened outside every pool: it
lasts exactly as long as that connection. When the leading process dies, or its connection is
cut, PostgreSQL ends the session and releases the lock, and the next worker to ask takes it.

A leader finds out it lost its connection at its next `leads()` (a round trip on it) and gives
way. Between the server ending the session and the old leader noticing, both may run a round:
jobs led this way must be idempotent (the station push is), so the overlap costs a repeated
push, never a wrong one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

log = logging.getLogger("haolin.leader")


class Leadership:
    def __init__(self, dsn: str, key: int, application_name: str, *, timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self._key = key
        self._application_name = application_name
        self._timeout_s = timeout_s
        self._conn: asyncpg.Connection | None = None
        self.leading = False

    async def leads(self) -> bool:
        """True while this process holds the lock: checks its connection when it does, tries to
        take the lock when it does not. Never raises: a database that cannot be reached means not
        leading, and the next call tries again."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._lost()
                self._conn = await asyncpg.connect(self._dsn, timeout=self._timeout_s,
                                                   server_settings={"application_name": self._application_name})
            if self.leading:
                await asyncio.wait_for(self._conn.fetchval("SELECT 1"), self._timeout_s)
                return True
            took = await asyncio.wait_for(self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key),
                                          self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("leadership %s: %s; not leading until the database answers again",
                        self._application_name, type(exc).__name__)
            await self._close()
            return False
        if took:
            self.leading = True
            log.info("%s leads (lock %d on connection %d)", self._application_name, self._key,
                     self._conn.get_server_pid())
        return took

    def _lost(self) -> None:
        if self.leading:
            log.warning("%s lost its lock's connection; no longer leading", self._application_name)
        self.leading = False

    async def _close(self) -> None:
        self._lost()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def release(self) -> None:
        """Give the lead up (at shutdown): closing the connection releases the lock at once."""
        conn, self._conn = self._conn, None
        self.leading = False
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._timeout_s)
            if not conn.is_closed():
                conn.terminate()

    @property
    def server_pid(self) -> int | None:
        """The backend of the lock's connection (for tests and operators: pg_stat_activity.pid)."""
        return self._conn.get_server_pid() if self._conn is not None and not self._conn.is_closed() else None
