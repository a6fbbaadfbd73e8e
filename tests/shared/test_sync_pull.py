"""The pull cursor (shared.sync): bounded by the oldest running transaction, so a row whose
transaction commits late is served by a later pull instead of being skipped; and a large
first sync streams in batches instead of being held whole."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc

import asyncpg
import pytest
from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.streaming import ClosingStreamingResponse
from shared.sync import PullQuery, SyncColumn, SyncTable, _pull_sql, pull_lines
from tests.conftest import _plain


class Base(DeclarativeBase):
    pass


class Probe(Base):
    __tablename__ = "sync_probe"
    __table_args__ = {"schema": "cases"}
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    station_path: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(String(200))
    deleted_at = mapped_column(DateTime(timezone=True))


async def _nothing(*_):
    raise AssertionError("pull only")


PROBES = SyncTable("probes", Probe, (SyncColumn("station_id", "number"), SyncColumn("note")),
                   create=_nothing, update=_nothing, delete=_nothing)


@pytest.fixture
async def probe_table(database_url):
    conn = await asyncpg.connect(_plain(database_url))
    await conn.execute("""
        CREATE TABLE cases.sync_probe (id varchar(64) PRIMARY KEY, station_id bigint NOT NULL,
            station_path varchar(255) COLLATE "C" NOT NULL, note varchar(200) NOT NULL, deleted_at timestamptz,
            change_xid xid8 NOT NULL DEFAULT pg_current_xact_id());
        CREATE INDEX ON cases.sync_probe (change_xid, id);
        CREATE TRIGGER trg BEFORE INSERT OR UPDATE ON cases.sync_probe
            FOR EACH ROW EXECUTE FUNCTION cases.touch_change_xid();""")
    engine = create_async_engine(database_url)
    try:
        yield conn, engine
    finally:
        await engine.dispose()
        await conn.execute("DROP TABLE cases.sync_probe")
        await conn.close()


async def pull(engine, since=None, path="/1/") -> tuple[str, list[dict]]:
    items = []
    async for chunk in pull_lines(engine, [PROBES], PullQuery(station_path=path, since=since)):
        items += [json.loads(line) for line in chunk.decode().splitlines() if line]
    return items[0]["cursor"], items[1:]


async def pull_past(engine, xid: int, since=None, path="/1/") -> tuple[str, list[dict]]:
    """A pull whose cursor is past `xid`. The cursor is the oldest transaction running anywhere
    on the server: another test run's open transaction holds it back for a moment."""
    for _ in range(300):
        cursor, rows = await pull(engine, since, path)
        if int(cursor) > xid:
            return cursor, rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"the cursor stayed at {cursor}, not past {xid}")


async def insert(conn, rid: str, path: str = "/1/2/", note: str = "x") -> int:
    """Insert a row in its own transaction; its xid."""
    return int(await conn.fetchval(
        "INSERT INTO cases.sync_probe (id, station_id, station_path, note) VALUES ($1, 2, $2, $3) "
        "RETURNING change_xid::text", rid, path, note))


class TestCursor:
    async def test_a_transaction_that_commits_late_is_never_skipped(self, probe_table, database_url):
        conn, engine = probe_table
        late = await asyncpg.connect(_plain(database_url))
        try:
            before = await insert(conn, "before")
            tx = late.transaction()
            await tx.start()
            late_xid = await insert(late, "late")  # takes its xid now, commits after the next writer and the pull
            after = await insert(conn, "after")  # a higher xid, committed at once
            assert before < late_xid < after

            cursor1, rows = await pull_past(engine, before)
            # "after" committed but sits above the oldest running transaction: it waits with "late".
            assert int(cursor1) <= late_xid
            assert [r["row"]["id"] for r in rows] == ["before"]

            await tx.commit()
            cursor2, rows = await pull_past(engine, after, since=cursor1)
            assert sorted(r["row"]["id"] for r in rows) == ["after", "late"]

            _, rows = await pull(engine, since=cursor2)
            assert rows == []
        finally:
            await late.close()

    async def test_changes_and_tombstones_after_the_cursor_in_the_subtree_only(self, probe_table):
        conn, engine = probe_table
        await insert(conn, "a")
        await insert(conn, "b")
        last = await insert(conn, "elsewhere", path="/1/3/")
        cursor, rows = await pull_past(engine, last, path="/1/2/")
        assert [(r["table"], r["row"]) for r in rows] == [("probes", {"id": "a", "station_id": 2, "note": "x"}),
                                                          ("probes", {"id": "b", "station_id": 2, "note": "x"})]
        await conn.execute("UPDATE cases.sync_probe SET note = 'y' WHERE id = 'a'")
        last = int(await conn.fetchval(
            "UPDATE cases.sync_probe SET deleted_at = now() WHERE id = 'b' RETURNING change_xid::text"))
        _, rows = await pull_past(engine, last, since=cursor, path="/1/2/")
        assert rows == [{"table": "probes", "row": {"id": "a", "station_id": 2, "note": "y"}},
                        {"table": "probes", "deleted": "b"}]


class TestStreaming:
    async def test_a_first_sync_of_100k_rows_streams_in_bounded_memory(self, probe_table):
        conn, engine = probe_table
        xid = int(await conn.fetchval("""
            WITH rows AS (INSERT INTO cases.sync_probe (id, station_id, station_path, note)
                          SELECT 'r' || lpad(i::text, 6, '0'), 2, '/1/2/', repeat('备注', 20)
                          FROM generate_series(1, 100000) AS i RETURNING change_xid)
            SELECT max(change_xid)::text FROM rows"""))
        for _ in range(300):  # until no transaction older than the insert runs anywhere on the server
            if int(await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")) > xid:
                break
            await asyncio.sleep(0.1)
        count, total_bytes = 0, 0
        tracemalloc.start()
        try:
            async for chunk in pull_lines(engine, [PROBES], PullQuery(station_path="/1/")):
                count += chunk.count(b"\n")
                total_bytes += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == 100_001  # the cursor line and every row
        # The answer is about 13 MB; what was held at once stays a small fraction of it.
        assert total_bytes > 10_000_000 and peak < total_bytes / 5, (peak, total_bytes)


class Quiet(Base):
    __tablename__ = "sync_probe_quiet"
    __table_args__ = {"schema": "cases"}
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    station_path: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(String(200))
    deleted_at = mapped_column(DateTime(timezone=True))


QUIET = SyncTable("quiet", Quiet, (SyncColumn("station_id", "number"), SyncColumn("note")),
                  create=_nothing, update=_nothing, delete=_nothing)


class TestTablesWithNothingNew:
    async def test_are_probed_in_one_statement_and_not_read_and_their_departures_are_still_served(
            self, probe_table, database_url):
        """An incremental pull asks once which tables have anything in its window, then reads only
        those: a table with no change costs no statement of its own, one whose only news is a record
        that left the subtree gets that deletion, and what is served is what reading every table gives."""
        from services.cases.models import SyncDeparture

        conn, _ = probe_table
        await conn.execute("CREATE TABLE cases.sync_probe_quiet (LIKE cases.sync_probe INCLUDING ALL);"
                           "CREATE TRIGGER trg BEFORE INSERT OR UPDATE ON cases.sync_probe_quiet "
                           "FOR EACH ROW EXECUTE FUNCTION cases.touch_change_xid();")
        seen: list[str] = []

        class Logged(asyncpg.Connection):
            """Every statement the pull sends: fetches, and the cursors it reads rows from."""

            def cursor(self, query, *args, **kwargs):
                seen.append(query)
                return super().cursor(query, *args, **kwargs)

            async def fetchrow(self, query, *args, **kwargs):
                seen.append(query)
                return await super().fetchrow(query, *args, **kwargs)

        engine = create_async_engine(database_url, connect_args={"connection_class": Logged})

        async def pull_since(since, path="/1/2/"):
            seen.clear()
            items = []
            query = PullQuery(station_path=path, since=since)
            async for chunk in pull_lines(engine, [PROBES, QUIET], query, departures=SyncDeparture):
                items += [json.loads(line) for line in chunk.decode().splitlines() if line]
            reads = [q for q in seen if "sync_probe" in q or "sync_departure" in q]
            return items[0]["cursor"], items[1:], reads

        try:
            await insert(conn, "a")
            last = int(await conn.fetchval("INSERT INTO cases.sync_probe_quiet (id, station_id, station_path, note) "
                                           "VALUES ('q', 2, '/1/2/', 'x') RETURNING change_xid::text"))
            for _ in range(300):
                first, rows, _ = await pull_since(None)
                if int(first) > last:
                    break
                await asyncio.sleep(0.1)
            assert sorted(r["row"]["id"] for r in rows) == ["a", "q"]

            await insert(conn, "b")
            await insert(conn, "elsewhere", path="/1/3/")
            last = int(await conn.fetchval(
                "INSERT INTO cases.sync_departure (table_name, record_id, station_id, station_path) "
                "VALUES ('quiet', 'moved-away', 2, '/1/2/') RETURNING change_xid::text"))
            for _ in range(300):
                second, rows, reads = await pull_since(first)
                if int(second) > last:
                    break
                await asyncio.sleep(0.1)
            assert rows == [{"table": "probes", "row": {"id": "b", "station_id": 2, "note": "x"}},
                            {"table": "quiet", "deleted": "moved-away"}]
            # The probe; the changed table's rows and tombstones; the quiet table's departures only.
            assert len(reads) == 4, reads
            assert "EXISTS" in reads[0] and "sync_probe_quiet" in reads[0]
            assert "sync_probe_quiet" not in "".join(reads[1:3]) and "sync_departure" in reads[3]

            # Read table by table, as a pull without the probe does, the same window serves the same.
            every = []
            async with engine.connect() as sa_conn:
                raw = (await sa_conn.get_raw_connection()).driver_connection
                for table in (PROBES, QUIET):
                    sql = _pull_sql(table.model, SyncDeparture)
                    args = ("/1/2/%", second, first)
                    every += [{"table": table.name, "row": table.pull_row(r)} for r in await raw.fetch(sql.changed, *args)]
                    every += [{"table": table.name, "deleted": r[0]} for r in await raw.fetch(sql.gone, *args)]
                    every += [{"table": table.name, "deleted": r[0]}
                              for r in await raw.fetch(sql.departed, *args, table.name)]
            assert every == rows

            # Nothing new anywhere: the probe is the only statement on the tables.
            _, rows, reads = await pull_since(second)
            assert rows == [] and len(reads) == 1, reads
        finally:
            await engine.dispose()
            await conn.execute("DROP TABLE cases.sync_probe_quiet")
            await conn.execute("DELETE FROM cases.sync_departure WHERE record_id = 'moved-away'")


class TestClientGoneMidPull:
    """A tablet (or the gateway) that goes away while a pull is being sent: the service's stream is
    closed there and then, and with it the pull's transaction and connection. Starlette's
    StreamingResponse cancels a stream whose client is gone but leaves it suspended where it was;
    its REPEATABLE READ transaction then stayed open, idle, holding a pooled connection and the
    server's oldest snapshot (which holds back every pull's cursor and vacuum) until the garbage
    collector found it: 25 s in one test run (shared/streaming.py)."""

    async def test_the_pulls_transaction_ends_with_the_client(self, probe_table, database_url):
        conn, _ = probe_table
        for n in range(3):
            await insert(conn, f"gone-{n}")
        engine = create_async_engine(database_url, connect_args={
            "server_settings": {"application_name": "pull-client-gone"}})
        first_chunk_sent, never = asyncio.Event(), asyncio.Event()
        messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

        async def receive():
            if (message := next(messages, None)) is not None:
                return message
            await first_chunk_sent.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and message.get("body"):
                first_chunk_sent.set()
                await never.wait()  # a client that reads nothing more, then is gone

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "method": "POST",
                 "path": "/pull", "headers": []}
        gc.disable()  # the collector may come late, or not at all before the pool is needed again
        try:
            response = ClosingStreamingResponse(pull_lines(engine, [PROBES], PullQuery(station_path="/1/"), batch=1),
                                                media_type="application/x-ndjson")
            await asyncio.wait_for(response(scope, receive, send), 5)
            del response  # served: nothing of ours holds the stream any more
            await asyncio.sleep(0.2)
            open_ = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                        "'pull-client-gone' AND xact_start IS NOT NULL")
            assert open_ == 0
        finally:
            gc.enable()
            await engine.dispose()
