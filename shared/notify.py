"""Per-process caches that PostgreSQL keeps honest: LISTEN/NOTIFY invalidation.

A value read on every request (the caller's account) is kept in the process, and a trigger on
its table NOTIFYs every change once it commits; each process LISTENs on one connection of its
own and drops what changed. Nothing lives in one process that another needs to know: every
worker and replica has its own copy and hears every change from the database.

A cache is trusted only while its LISTEN connection is up. When the connection is lost (the
database restarted, the network cut, the connection killed), notifications may be missed, so
every read goes to the database until the listener is back; on reconnecting, everything cached
before is dropped. A read that races a notification never stores what it read (the epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg

log = logging.getLogger("haolin.notify")

K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


class Listener:
    """One LISTEN connection of a process, reconnecting with backoff, checked every `check_s`."""

    def __init__(self, dsn: str, application_name: str, *, check_s: float = 5.0, retry_s: float = 0.1,
                 max_backoff_s: float = 5.0) -> None:
        self._dsn = dsn
        self._retry_s = retry_s
        self._application_name = application_name
        self._check_s = check_s
        self._max_backoff_s = max_backoff_s
        self._channels: dict[str, list[Callable[[str], None]]] = {}
        self._resets: list[Callable[[], None]] = []
        self._task: asyncio.Task | None = None
        self._up = asyncio.Event()
        self.connected = False

    def subscribe(self, channel: str, on_notify: Callable[[str], None], on_reset: Callable[[], None]) -> None:
        """`on_notify(payload)` for each notification on `channel`; `on_reset()` whenever the
        listener (re)connects, since notifications may have been missed while it was away."""
        self._channels.setdefault(channel, []).append(on_notify)
        self._resets.append(on_reset)

    async def start(self, wait_s: float = 5.0) -> None:
        """Begin listening; waits up to `wait_s` for the first connection (caches are bypassed until then)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"listen-{self._application_name}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), wait_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.connected = False

    def _dispatch(self, connection, pid, channel: str, payload: str) -> None:
        for handler in self._channels.get(channel, ()):
            handler(payload)

    async def _run(self) -> None:
        backoff = self._retry_s
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, server_settings={"application_name": self._application_name})
                lost = asyncio.Event()

                def gone(_, lost=lost) -> None:
                    self.connected = False  # at once, not when the loop below wakes
                    lost.set()

                conn.add_termination_listener(gone)
                for channel in self._channels:
                    await conn.add_listener(channel, self._dispatch)
                # Listening from here on: whatever changed before may have been missed.
                for reset in self._resets:
                    reset()
                self.connected = True
                self._up.set()
                backoff = self._retry_s
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._check_s)
                    if not lost.is_set():
                        # A connection that hangs rather than closes is found here.
                        await asyncio.wait_for(conn.execute("SELECT 1"), self._check_s)
                log.warning("notification listener %s lost its connection; reading through", self._application_name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notification listener %s: %s; reading through until it is back",
                            self._application_name, type(exc).__name__)
            finally:
                self.connected = False
                self._up.clear()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)


class NotifiedCache(Generic[K, V]):
    """Values by key, loaded on a miss by `load(key)`, dropped when their channel names them
    (an empty payload drops everything); read straight through while the listener is away."""

    def __init__(self, listener: Listener, channel: str, load: Callable[[K], Awaitable[V]],
                 key_of: Callable[[str], K], max_size: int = 100_000) -> None:
        self._listener = listener
        self._load = load
        self._key_of = key_of
        self._max_size = max_size
        self._entries: dict[K, V] = {}
        # Bumped by every invalidation: a value read while one arrived is not stored.
        self._epoch = 0
        listener.subscribe(channel, self._invalidate, self.clear)

    async def get(self, key: K) -> V:
        if not self._listener.connected:
            return await self._load(key)
        found = self._entries.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        epoch = self._epoch
        value = await self._load(key)
        if epoch == self._epoch and self._listener.connected:
            if len(self._entries) >= self._max_size:
                del self._entries[next(iter(self._entries))]  # the oldest entry
            self._entries[key] = value
        return value

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()

    def _invalidate(self, payload: str) -> None:
        self._epoch += 1
        if not payload:
            self._entries.clear()
            return
        try:
            key = self._key_of(payload)
        except ValueError:
            self._entries.clear()
            return
        self._entries.pop(key, None)
