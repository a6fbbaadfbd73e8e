"""shared.notify: a per-process cache dropped by PostgreSQL's notifications, and read straight
through while the listening connection is away."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.db import asyncpg_dsn
from shared.notify import Listener, NotifiedCache

CHANNEL = "haolin_test_notify"
NAME = "haolin-test-listen"


async def until(predicate, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def source(database_url):
    """(listener, cache, the values the database 'holds', the keys loaded, in order)."""
    values = {1: "one", 2: "two"}
    loads: list[int] = []

    async def load(key: int) -> str | None:
        loads.append(key)
        return values.get(key)

    # A second before reconnecting: long enough to see the cache bypassed meanwhile.
    listener = Listener(asyncpg_dsn(database_url), NAME, check_s=0.5, retry_s=1.0)
    cache: NotifiedCache[int, str | None] = NotifiedCache(listener, CHANNEL, load, int)
    await listener.start()
    assert listener.connected
    yield listener, cache, values, loads
    await listener.stop()


async def notified(db, payload: str) -> None:
    await db.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


class TestNotifiedCache:
    async def test_a_value_is_read_once_and_again_after_its_notification(self, source, db):
        listener, cache, values, loads = source
        assert [await cache.get(1) for _ in range(3)] == ["one"] * 3
        assert await cache.get(3) is None and await cache.get(3) is None  # a missing one is remembered too
        assert loads == [1, 3]
        values[1] = "uno"
        await notified(db, "1")
        await until(lambda: not cache._entries.get(1))
        assert await cache.get(1) == "uno" and await cache.get(2) == "two"
        assert loads == [1, 3, 1, 2]
        await notified(db, "")  # everything
        await until(lambda: not cache._entries)
        await cache.get(2)
        assert loads[-1] == 2

    async def test_a_read_racing_a_notification_is_not_kept(self, source, db):
        listener, cache, values, loads = source
        release = asyncio.Event()
        real = cache._load

        async def slow(key):
            value = await real(key)  # read before the change...
            await release.wait()
            return value

        cache._load = slow
        reading = asyncio.create_task(cache.get(1))
        await until(lambda: loads == [1])
        values[1] = "uno"
        epoch = cache._epoch
        await notified(db, "1")  # ...which is notified while the read is still on its way
        await until(lambda: cache._epoch > epoch)
        release.set()
        assert await reading == "one"
        cache._load = real
        assert await cache.get(1) == "uno"

    async def test_read_through_while_the_listener_is_away(self, source, db):
        listener, cache, values, loads = source
        await cache.get(1)
        await db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = $1 AND datname = current_database()", NAME)
        await until(lambda: not listener.connected, within_s=0.5)
        values[1] = "changed while nobody listened"
        # Nobody hears a notification now: every read goes to the source.
        assert await cache.get(1) == "changed while nobody listened"
        assert await cache.get(1) == "changed while nobody listened"
        assert loads.count(1) == 3
        await until(lambda: listener.connected)
        # Back: what was kept before may be stale and was dropped; reads are kept again.
        before = len(loads)
        assert await cache.get(1) == "changed while nobody listened"
        assert await cache.get(1) == "changed while nobody listened"
        assert len(loads) == before + 1
