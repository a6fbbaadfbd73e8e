"""The pull's byte path (issue 7, 5b): the services write each row in a fixed compact layout
(shared/sync.py pull_lines, pull_row), the gateway splits their streams on b"\\n" and copies the
rows through unparsed, in chunks (gateway/sync/api.py, shared/contracts/sync/ndjson.py). What a tablet
gets must be exactly what each service's own `serve()` says of the stored record."""

from __future__ import annotations

import json
import uuid

import httpx
import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.sync import api as sync_api
from shared.contracts.sync.ndjson import line_batches
from services.cases.sync import TABLES as CASES_TABLES
from services.projects.sync import TABLES as PROJECTS_TABLES
from services.volunteers.sync import TABLES as VOLUNTEERS_TABLES
from shared import clock
from tests.fixtures.people import ID_BORN_1980, ID_BORN_1985, ID_BORN_1990
from tests.fixtures.sync import settle
from tests.gateway.test_sync_flow import station_tablet
from tests.storage.samples import pdf

# What a hand-made splitter or slicer gets wrong: quotes, backslashes, a newline, braces and a
# line of the services' own layout inside a string, non-ASCII text, a line separator, an emoji.
TRICKY = '王"五\\路\n}{"table":"x","row":{"id":"y"}}\u2028😀 ok'


async def _chunks(data: bytes, cuts: list[int]):
    start = 0
    for cut in sorted(cuts):
        yield data[start:cut]
        start = cut
    yield data[start:]


async def _flat(data: bytes, cuts: list[int]) -> list[bytes]:
    return [line async for batch in line_batches(_chunks(data, cuts)) for line in batch]


class TestLineSplitter:
    @given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
           st.lists(st.integers(min_value=0, max_value=1500), max_size=40), st.booleans())
    async def test_any_chunking_gives_the_same_lines(self, lines, cuts, trailing_newline):
        data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
        assert await _flat(data, [c for c in cuts if c <= len(data)]) == [line for line in lines if line]

    async def test_a_line_cut_across_many_chunks_and_a_last_line_without_newline(self):
        data = b'{"cursor": "7"}\n' + b'{"table":"t","row":{"id":"' + b"x" * 100 + b'"}}\n\n{"table":"t"'
        assert await _flat(data, list(range(20, len(data), 7))) == data.replace(b"\n\n", b"\n").split(b"\n")
        batches = [b async for b in line_batches(_chunks(b"a\nb\nc", [1, 3]))]
        assert batches == [[b"a"], [b"b"], [b"c"]] and all(batches)


def _everything(station_id: int, project_id: str) -> dict:
    """One new record of every synced table, text fields full of TRICKY."""
    today = clock.today().isoformat()

    def uid(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    person = {"id": uid("b"), "name": "张\"三\\丰", "id_number": ID_BORN_1980, "phone": "13812345678",
              "populations": '["elderly"]', "address": TRICKY, "station_id": station_id,
              "emergency_contact": json.dumps({"name": TRICKY, "relation": "女儿", "phone": "13900001111"},
                                              ensure_ascii=False)}
    # Asked to take its assessment: where a rule needs approval of it, an approval is made.
    case = {"id": uid("c"), "beneficiary_id": person["id"], "title": "入户照护", "presenting_problem": TRICKY,
            "opened_on": today, "station_id": station_id, "step": "assess"}
    visit = {"id": uid("sr"), "case_id": case["id"], "served_on": today, "mode": "home_visit", "content": TRICKY,
             "service_type": "elder_child_care", "person_times": 2, "duration_minutes": 45, "resources_yuan": 12.5}
    call = {"id": uid("vis"), "beneficiary_id": person["id"], "visited_on": today, "mode": "home_visit",
            "health": "fair", "safety": "safe", "living": "basic", "needs": '["meals"]', "notes": TRICKY,
            "follow_up": False}
    referral = {"id": uid("ref"), "case_id": case["id"], "agency": "区残联", "referred_on": today, "reason": TRICKY,
                "notes": TRICKY}
    group = {"id": uid("g"), "project_id": project_id, "station_id": station_id, "title": "长者\"防诈\"小组",
             "target_population": "elderly", "planned_sessions": 6, "starts_on": today, "members": "[]"}
    session = {"id": uid("s"), "group_id": group["id"], "held_on": today, "starts_at": "14:00", "topic": TRICKY,
               "anonymous_count": 3, "notes": TRICKY}
    volunteer = {"id": uid("v"), "name": "刘志愿", "id_type": "mainland_id", "id_number": ID_BORN_1985,
                 "phone": "13800138000", "skills": '["助老","陪诊"]', "station_id": station_id,
                 "disclosure_consent": True}
    # Names the volunteer registered in the same push.
    festival = {"id": uid("a"), "project_id": project_id, "station_id": station_id, "title": "重阳节敬老活动",
                "kind": "festival", "place": TRICKY, "held_on": today, "starts_at": "09:30", "anonymous_count": 5,
                "volunteer_ids": json.dumps([volunteer["id"]]), "resources_yuan": 350.5, "photos": "[]",
                "notes": TRICKY}
    ticked = {"id": uid("att"), "activity_id": festival["id"], "beneficiary_id": person["id"]}
    hours = {"id": uid("h"), "volunteer_id": volunteer["id"], "station_id": station_id,
             "activity_kind": "free_text", "activity_title": "重阳敬老", "served_on": today,
             "start_time": "09:00", "end_time": "11:30", "content": TRICKY}
    tables = {"beneficiaries": person, "cases": case, "service_records": visit, "referrals": referral,
              "visits": call, "groups": group, "group_sessions": session, "activities": festival, "attendances": ticked,
              "volunteers": volunteer, "volunteer_hours": hours}
    return {name: {"created": [row], "updated": [], "deleted": []} for name, row in tables.items()}


async def _served(apps_tables, pulled: dict) -> dict[str, dict[str, dict]]:
    """{table: {id: serve(stored record)}} for the ids the pull gave, read by each service's ORM."""
    out = {}
    for app, tables in apps_tables:
        async with app.state.db.read_sessions() as session:
            for table in tables:
                ids = [r["id"] for r in pulled[table.name]["updated"]]
                records = (await session.scalars(select(table.model).where(table.model.id.in_(ids)))).all()
                out[table.name] = {r.id: table.serve(r, app.state.vault) for r in records}
    return out


class TestPullThroughTheGateway:
    async def test_every_table_arrives_as_the_service_serves_it(self, gateway, admin_headers, gateway_tree, db,
                                                                cases_app,
                                                                projects_app, volunteers_app):
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
            "starts_on": clock.today().isoformat(), "ends_on": clock.today().isoformat()})
        assert r.status_code == 201, r.text
        r2 = await gateway.put(f"/v1/approval-rules/{township['id']}", headers=head, json={"steps": ["assess"]})
        assert r2.status_code == 200, r2.text
        await tablet.pull()
        changes = _everything(township["id"], r.json()["id"])
        await tablet.push(changes)
        # The approvals' table is read-only: its one record is the case's assessment, submitted by the push.
        changes["approvals"] = {"created": [{"id": await db.fetchval("SELECT id FROM cases.approval")}],
                                "updated": [], "deleted": []}
        # The attachments' tables are read-only: their one record each is a file the tablet uploads.
        for table, owner in (("case_attachments", "beneficiaries"), ("project_attachments", "group_sessions"),
                             ("volunteer_attachments", "volunteer_hours")):
            file_id = str(uuid.uuid4())
            r = await gateway.put(f"/v1/sync/attachments/{file_id}", content=pdf(), headers=tablet.headers, params={
                "table": owner, "record_id": changes[owner]["created"][0]["id"], "file_name": TRICKY,
                "purpose": "proof" if owner == "volunteer_hours" else "photo"})
            assert r.status_code == 201, r.text
            changes[table] = {"created": [{"id": file_id}], "updated": [], "deleted": []}

        await settle(db)
        r = await gateway.get("/v1/sync", headers=tablet.headers, params={"last_pulled_at": "null"})
        assert r.status_code == 200
        body = json.loads(r.content)  # strict JSON: no NaN, no stray bytes
        names = [t["name"] for t in (await gateway.get("/v1/sync/schema")).json()["tables"]]
        assert list(body["changes"]) == names
        assert list(body) == ["changes", "timestamp", "experimentalStrategy"]  # a full pull replaces
        served = await _served([(cases_app, CASES_TABLES), (projects_app, PROJECTS_TABLES),
                                (volunteers_app, VOLUNTEERS_TABLES)], body["changes"])
        for name in names:
            got = {row["id"]: row for row in body["changes"][name]["updated"]}
            assert set(got) == {changes[name]["created"][0]["id"]}, name  # one record of every table
            assert got == served[name], name
        assert body["changes"]["service_records"]["updated"][0]["content"] == TRICKY
        assert json.loads(body["changes"]["beneficiaries"]["updated"][0]["emergency_contact_masked"])["name"] \
            == TRICKY[0] + "*" * (len(TRICKY) - 1)
        assert body["changes"]["activities"]["updated"][0]["resources_yuan"] == 350.5

        # The next pull: the tombstone of a deleted record, copied through the same way.
        visit = changes["service_records"]["created"][0]["id"]
        await tablet.pull()
        await tablet.push({"service_records": {"created": [], "updated": [], "deleted": [visit]}})
        later = await tablet.pull()
        assert later["changes"]["service_records"] == {"created": [], "updated": [], "deleted": [visit]}

    async def test_lines_in_another_layout_give_the_same_answer(self, gateway, admin_headers, gateway_tree, db):
        """A service whose lines are not in the fixed layout (an older one: spaces, other key
        order, CRLF) is parsed line by line, and the tablet gets the same answer."""
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
            "starts_on": clock.today().isoformat(), "ends_on": clock.today().isoformat()})
        await tablet.pull()
        changes = _everything(township["id"], r.json()["id"])
        await tablet.push(changes)
        await tablet.pull()  # then a deletion, so a pull from here serves a tombstone
        visit = changes["service_records"]["created"][0]["id"]
        await tablet.push({"service_records": {"deleted": [visit]}})
        since = tablet.last_pulled_at
        await settle(db)

        async def pull_both() -> tuple[dict, dict]:
            first = (await gateway.get("/v1/sync", headers=tablet.headers, params={"last_pulled_at": "null"})).json()
            later = (await gateway.get("/v1/sync", headers=tablet.headers, params={"last_pulled_at": since})).json()
            return first, later

        fixed = await pull_both()
        upstreams = gateway.app.state.upstreams
        real = upstreams._clients["cases"]

        class OtherLayout(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                response = await real._transport.handle_async_request(request)
                if request.url.path != "/internal/sync/pull":
                    return response
                lines = (await response.aread()).split(b"\n")  # not splitlines(): U+2028 is no line end
                items = [json.loads(line) for line in lines if line]
                other = [json.dumps(dict(reversed(list(item.items()))), ensure_ascii=bool(i % 2))
                         for i, item in enumerate(items)]
                return httpx.Response(200, content=("\r\n".join(other) + "\r\n").encode(),
                                      headers={"content-type": "application/x-ndjson"})

        upstreams._clients["cases"] = httpx.AsyncClient(base_url="http://cases", transport=OtherLayout())
        try:
            other = await pull_both()
        finally:
            upstreams._clients["cases"] = real
        for a, b in zip(fixed, other, strict=True):
            assert a["changes"] == b["changes"]
        assert fixed[1]["changes"]["service_records"]["deleted"] == [visit]
        assert fixed[0]["changes"]["cases"]["updated"]


class TestChunks:
    async def test_written_in_bounded_chunks_with_the_same_content(self, gateway, admin_headers, root, monkeypatch):
        """Many rows: the answer goes out in chunks of about CHUNK bytes, none holding the whole."""
        r = await gateway.post("/v1/devices", headers=admin_headers, json={"station_id": root["id"], "name": "平板"})
        assert r.status_code == 201, r.text
        device_id = r.json()["id"]
        monkeypatch.setattr(sync_api, "CHUNK", 4096)
        rows = [{"id": f"r{i}", "note": TRICKY, "n": i} for i in range(2000)]
        lines = [b'{"table":"service_records","row":'
                 + json.dumps(row, ensure_ascii=False).encode() + b"}" for row in rows]
        lines += [b'{"table":"service_records","deleted":"gone-1"}', b'{"table":"cases","row":{"id":"c1"}}']
        data = b"\n".join(lines) + b"\n"

        class Closed:
            closed = 0

            async def aclose(self):
                Closed.closed += 1

        async def batches():
            async for batch in line_batches(_chunks(data, list(range(1, len(data), 1500)))):
                yield batch

        streams = [("cases", Closed(), batches())]
        chunks = [c async for c in sync_api._assemble(streams, ["cases", "service_records", "groups"],
                                                      gateway.app.state.db, device_id, {"cases": "5"}, 2,
                                                      replacement=False)]
        assert Closed.closed >= 1
        assert len(chunks) > 10 and max(len(c) for c in chunks[:-1]) < 4096 + 2000
        body = json.loads(b"".join(chunks))
        assert list(body["changes"]) == ["service_records", "cases", "groups"]
        assert body["changes"]["service_records"] == {"created": [], "updated": rows, "deleted": ["gone-1"]}
        assert body["changes"]["cases"] == {"created": [], "updated": [{"id": "c1"}], "deleted": []}
        assert body["changes"]["groups"] == {"created": [], "updated": [], "deleted": []}
        assert isinstance(body["timestamp"], int) and "experimentalStrategy" not in body


async def _orm_pull_lines(engine, tables, query, batch: int = 500, vault=None, departures=None):
    """The pull as SQLAlchemy statements streamed through the ORM's engine: how shared.sync.pull_lines
    read before it ran constant asyncpg statements (bench scenario 8), kept here as the reference
    that the faster reader must match byte for byte."""
    from sqlalchemy import exists, func, literal_column, select, text

    from shared.contracts.sync import ndjson
    from shared.scope import under

    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            cursor = (await conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))).scalar_one()
            yield ndjson.cursor_line(cursor)
            for table in tables:
                if query.tables is not None and table.name not in query.tables:
                    continue
                since = None if table.name in query.full_tables else query.since
                model = table.model
                xid = literal_column("change_xid")
                window = [under(model.station_path, query.station_path),
                          text("change_xid < CAST(:cursor AS xid8)").bindparams(cursor=cursor)]
                if since is not None:
                    window.append(text("change_xid >= CAST(:since AS xid8)").bindparams(since=since))
                live = select(*model.__table__.columns).where(*window, model.deleted_at.is_(None)).order_by(
                    xid, model.id)
                head = ndjson.row_head(table.name)
                result = await conn.stream(live.execution_options(yield_per=batch))
                async for part in result.partitions(batch):
                    yield b"".join([head + orjson.dumps(table.pull_row(r._mapping, vault)) + ndjson.END
                                    for r in part])
                if since is None:
                    continue
                tombstone = ndjson.tombstone_head(table.name)
                gone = select(model.id).where(*window, model.deleted_at.is_not(None)).order_by(xid, model.id)
                result = await conn.stream(gone.execution_options(yield_per=batch))
                async for part in result.partitions(batch):
                    yield b"".join([tombstone + orjson.dumps(r[0]) + ndjson.END for r in part])
                if departures is None:
                    continue
                back = exists().where(model.id == departures.record_id,
                                      under(model.station_path, query.station_path))
                left = (select(departures.record_id)
                        .where(departures.table_name == table.name, under(departures.station_path, query.station_path),
                               *window[1:], ~back)
                        .group_by(departures.record_id).order_by(func.min(text("change_xid")), departures.record_id))
                result = await conn.stream(left.execution_options(yield_per=batch))
                async for part in result.partitions(batch):
                    yield b"".join([tombstone + orjson.dumps(r[0]) + ndjson.END for r in part])


class TestRawPullEqualsTheOrmPull:
    async def test_the_same_bytes_for_every_table_first_and_incremental(self, gateway, admin_headers, gateway_tree,
                                                                        db, cases_app, projects_app, volunteers_app):
        """shared.sync.pull_lines reads through asyncpg itself; on the same data (every synced table,
        sealed and JSON columns, tricky text, tombstones, records that left the subtree and one that
        came back) it writes what the SQLAlchemy statements wrote, for a first and a later pull, at
        the root and at the tablet's township, in batches smaller than the answer."""
        from services.cases import models as cases_models
        from shared.contracts.sync.schemas import PullQuery
        from shared.sync import pull_lines

        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
            "starts_on": clock.today().isoformat(), "ends_on": clock.today().isoformat()})
        assert r.status_code == 201, r.text
        project_id = r.json()["id"]
        await tablet.pull()
        first = _everything(township["id"], project_id)
        await tablet.push(first)
        await settle(db)
        # Every service's cursor is an xid of the one server: a later pull's window starts here.
        since = await db.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        await tablet.pull()
        second = _everything(township["id"], project_id)
        # ID numbers are registered once.
        del second["beneficiaries"]["created"][0]["id_number"]
        second["volunteers"]["created"][0]["id_number"] = ID_BORN_1990
        await tablet.push(second)
        await tablet.pull()
        await tablet.push({"service_records": {"deleted": [first["service_records"]["created"][0]["id"]]},
                           "attendances": {"deleted": [first["attendances"]["created"][0]["id"]]}})
        # Records that left the township (served there as deletions, in the order they left) and one
        # that came back (not served).
        person = first["beneficiaries"]["created"][0]["id"]
        for left in ("b-z-gone-elsewhere", "b-a-gone-elsewhere", person):  # one transaction each
            await db.execute("INSERT INTO cases.sync_departure (table_name, record_id, station_id, station_path) "
                             "VALUES ('beneficiaries', $1, $2, $3)", left, township["id"], township["path"])
        await settle(db)

        for service, app, tables, departures in (("cases", cases_app, CASES_TABLES, cases_models.SyncDeparture),
                                                 ("projects", projects_app, PROJECTS_TABLES, None),
                                                 ("volunteers", volunteers_app, VOLUNTEERS_TABLES, None)):
            engine, vault = app.state.figures.engine, app.state.vault
            for path in ("/1/", township["path"]):
                for query in (PullQuery(station_path=path),
                              PullQuery(station_path=path, since=since),
                              PullQuery(station_path=path, since=since, tables=[tables[0].name, tables[-1].name],
                                        full_tables=[tables[-1].name])):
                    old = b"".join([p async for p in _orm_pull_lines(engine, tables, query, batch=2, vault=vault,
                                                                     departures=departures)])
                    new = b"".join([p async for p in pull_lines(engine, tables, query, batch=2, vault=vault,
                                                                departures=departures)])
                    assert new.split(b"\n")[1:] == old.split(b"\n")[1:], (service, query)
                    assert new.count(b"\n") > 1, query  # every pull here has rows
        later = b"".join([p async for p in pull_lines(cases_app.state.figures.engine, CASES_TABLES,
                                                      PullQuery(station_path=township["path"], since=since),
                                                      vault=cases_app.state.vault,
                                                      departures=cases_models.SyncDeparture)])
        assert later.index(b'"deleted":"b-z-gone-elsewhere"') < later.index(b'"deleted":"b-a-gone-elsewhere"')
        assert f'"deleted":"{person}"'.encode() not in later
        assert f'"deleted":"{first["service_records"]["created"][0]["id"]}"'.encode() in later
