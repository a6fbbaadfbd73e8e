"""Two station tablets syncing through the gateway with stock WatermelonDB requests: pulls that
hand out one timestamp for three services, offline edits that conflict, records moving between
the REST API, the tablets and the dashboard figures, tombstones, and a push that fails half-way
and converges when retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from shared import clock
from tests.cases.test_sync import tablet_beneficiary, tablet_case, tablet_service_record
from tests.fixtures.gateway import users
from tests.fixtures.sync import settle


class Tablet:
    def __init__(self, gateway, credential: str, db) -> None:
        self.gateway, self.db = gateway, db
        self.headers = {"Authorization": f"Bearer {credential}"}
        self.last_pulled_at = None

    async def pull(self, expect: int = 200, **params) -> dict:
        await settle(self.db)
        r = await self.gateway.get("/v1/sync", headers=self.headers, params={
            "last_pulled_at": "null" if self.last_pulled_at is None else str(self.last_pulled_at),
            "schema_version": "2", "migration": "null", **params})
        assert r.status_code == expect, r.text
        body = r.json()
        if expect == 200:
            assert isinstance(body["timestamp"], int) and body["timestamp"] > 0
            self.last_pulled_at = body["timestamp"]
            for table, changes in body["changes"].items():
                assert changes["created"] == [], table  # everything as updated: sendCreatedAsUpdated
                ids = [r["id"] for r in changes["updated"]] + changes["deleted"]
                assert len(ids) == len(set(ids)), table  # no id twice
        return body

    async def push(self, changes: dict, expect: int = 204) -> httpx.Response:
        r = await self.gateway.post("/v1/sync", headers=self.headers, json=changes,
                                    params={"last_pulled_at": str(self.last_pulled_at)})
        assert r.status_code == expect, r.text
        return r


def updated(body: dict, table: str) -> dict[str, dict]:
    return {r["id"]: r for r in body["changes"][table]["updated"]}


async def station_tablet(gateway, admin_headers, gateway_tree, db) -> tuple[dict, "Tablet", dict]:
    """The township, a tablet registered there by its station head, and the head's headers."""
    township = gateway_tree["mengzhuiwan"]
    staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"))
    head = staff["chen.head"]
    r = await gateway.post("/v1/devices", headers=head, json={"station_id": township["id"], "name": "平板"})
    assert r.status_code == 201, r.text
    return township, Tablet(gateway, r.json()["credential"], db), head


class TestTwoTablets:
    @pytest.mark.replicated
    async def test_conflicting_offline_edits_rest_and_figures(self, gateway, admin_headers, gateway_tree, db):
        township = gateway_tree["mengzhuiwan"]
        staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"),
                            ("li.worker", "social_worker", "mengzhuiwan"))
        head, worker = staff["chen.head"], staff["li.worker"]
        devices = []
        for name in ("平板甲", "平板乙"):
            r = await gateway.post("/v1/devices", headers=head, json={"station_id": township["id"], "name": name})
            assert r.status_code == 201, r.text
            devices.append(Tablet(gateway, r.json()["credential"], db))
        a, b = devices
        today = clock.today()

        # A social worker registers a person through the REST API: both tablets get her.
        r = await gateway.post("/v1/beneficiaries", headers=worker, json={
            "name": "张桂芳", "populations": ["elderly"], "address": "和平村3组"})
        assert r.status_code == 201, r.text
        person = r.json()
        first_a, first_b = await a.pull(), await b.pull()
        row = updated(first_a, "beneficiaries")[person["id"]]
        assert row["name"] == "张桂芳" and row["station_id"] == township["id"]
        assert updated(first_b, "beneficiaries")[person["id"]] == row
        assert {"beneficiaries", "cases", "service_records", "groups", "attendances", "volunteers",
                "volunteer_hours"} <= set(first_a["changes"])

        # Offline, both change her address. A syncs first; B's push is refused, names the record,
        # and writes nothing; B pulls (getting A's edit), then pushes its own again.
        mine = {**row, "address": "和平村4组", "_status": "updated", "_changed": "address"}
        await a.push({"beneficiaries": {"created": [], "updated": [mine], "deleted": []}})
        theirs = {**row, "address": "和平村5组", "_status": "updated", "_changed": "address"}
        r = await b.push({"beneficiaries": {"updated": [theirs]}}, expect=409)
        assert r.json()["records"] == [{"table": "beneficiaries", "id": person["id"]}]
        r = await gateway.get(f"/v1/beneficiaries/{person['id']}", headers=worker)
        assert r.json()["address"] == "和平村4组"
        again = await b.pull()
        assert updated(again, "beneficiaries")[person["id"]]["address"] == "和平村4组"
        await b.push({"beneficiaries": {"updated": [{**updated(again, "beneficiaries")[person["id"]],
                                                     "address": "和平村5组"}]}})
        r = await gateway.get(f"/v1/beneficiaries/{person['id']}", headers=worker)
        assert r.json()["address"] == "和平村5组"

        # A opens a case and logs a visit offline; they appear in REST and in the dashboard figures.
        before = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
        case = tablet_case(person["id"], today, station_id=township["id"])
        visit = tablet_service_record(case["id"], today, person_times=2)
        await a.push({"cases": {"created": [case]}, "service_records": {"created": [visit]}})
        r = await gateway.get(f"/v1/cases/{case['id']}", headers=worker)
        assert r.status_code == 200 and r.json()["beneficiary_id"] == person["id"]
        await gateway.forget_stats()
        after = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
        assert after["person_times.casework"]["value"] == before["person_times.casework"]["value"] + 2
        assert after["cases.new"]["value"] == before["cases.new"]["value"] + 1

        # A's own records come back to it as updated, never as created; B gets them too.
        mine_back = await a.pull()
        assert case["id"] in updated(mine_back, "cases") and visit["id"] in updated(mine_back, "service_records")
        assert visit["id"] in updated(await b.pull(), "service_records")

        # A deletes the visit: B gets a tombstone and the figures take it back.
        await a.push({"service_records": {"deleted": [visit["id"]]}})
        tomb = await b.pull()
        assert tomb["changes"]["service_records"]["deleted"] == [visit["id"]]
        await gateway.forget_stats()
        gone = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
        assert gone["person_times.casework"]["value"] == before["person_times.casework"]["value"]

        # Nothing new: an empty pull, and the timestamp moves on.
        stamp = b.last_pulled_at
        quiet = await b.pull()
        assert all(c == {"created": [], "updated": [], "deleted": []} for c in quiet["changes"].values())
        assert quiet["timestamp"] > stamp

        # A tablet whose last answer was lost pulls from the timestamp before it; the gateway
        # keeps the newest few per tablet, not every one it ever gave.
        for _ in range(6):
            await b.pull()
        r = await gateway.get("/v1/sync", headers=b.headers, params={"last_pulled_at": str(b.last_pulled_at - 1)})
        assert r.status_code == 200, r.text
        kept = await db.fetch("SELECT id FROM gateway.sync_cursor WHERE device_id = "
                              "(SELECT device_id FROM gateway.sync_cursor WHERE id = $1) ORDER BY id", b.last_pulled_at)
        assert len(kept) == 5 and kept[-2]["id"] == b.last_pulled_at
        r = await gateway.get("/v1/sync", headers=b.headers, params={"last_pulled_at": str(stamp)})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "last_pulled_at"

    async def test_a_push_that_fails_half_way_converges_on_retry(self, gateway, admin_headers, gateway_tree, db):
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        await tablet.pull()
        person = tablet_beneficiary(station_id=township["id"])
        volunteer = {"id": f"v-{uuid.uuid4().hex[:10]}", "name": "刘志愿", "id_type": "mainland_id",
                     "id_number": "11010519491231002X", "phone": "13800138000", "station_id": township["id"],
                     "disclosure_consent": True}
        changes = {"beneficiaries": {"created": [person]}, "volunteers": {"created": [volunteer]}}

        # The volunteers service dies when its part is due, after the cases service has taken its own
        # (written and held prepared, or dry-run, where the database cannot prepare: shared/prepared.py).
        upstreams = gateway.app.state.upstreams
        real = upstreams._clients["volunteers"]

        class Dies(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                raise httpx.ConnectError("killed", request=request)

        upstreams._clients["volunteers"] = httpx.AsyncClient(base_url="http://volunteers", transport=Dies())
        r = await tablet.push(changes, expect=503)
        assert r.json()["service"] == "volunteers"
        assert 2 <= int(r.headers["retry-after"]) <= 10  # a tablet is told when to come back
        r = await gateway.get(f"/v1/beneficiaries/{person['id']}", headers=head)
        assert r.status_code == 404  # the cases part is not kept (a lost commit, half written: test_sync_two_phase)

        # The tablet retries the same push (it still holds all its changes): it converges.
        upstreams._clients["volunteers"] = real
        await tablet.push(changes)
        await tablet.push(changes)  # that answer lost too: the same push again, still no pull between
        # A tablet that lost that answer syncs again (synchronize() pulls, then pushes): nothing doubles.
        await tablet.pull()
        await tablet.push(changes)
        r = await gateway.get("/v1/beneficiaries", headers=head, params={"q": person["name"]})
        assert [b["id"] for b in r.json()["items"]].count(person["id"]) == 1
        r = await gateway.get(f"/v1/volunteers/{volunteer['id']}", headers=head)
        assert r.status_code == 200 and r.json()["name"] == "刘志愿"
        tablet.last_pulled_at = None  # a fresh tablet's first sync sees each once
        pulled = await tablet.pull()
        assert person["id"] in updated(pulled, "beneficiaries") and volunteer["id"] in updated(pulled, "volunteers")

    @pytest.mark.replicated
    async def test_a_new_person_and_their_attendance_in_one_push(self, gateway, admin_headers, gateway_tree, db):
        """Offline, a worker registers a newcomer at a festival and ticks her attendance: the
        person (cases service) and the attendance (projects service) arrive in one push."""
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        today = clock.today()
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
            "starts_on": today.isoformat(), "ends_on": today.isoformat()})
        assert r.status_code == 201, r.text
        project = r.json()
        await tablet.pull()
        await gateway.forget_stats()
        before = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]

        person = tablet_beneficiary(station_id=township["id"], populations='["elderly"]')
        festival = {"id": f"a-{uuid.uuid4().hex[:10]}", "project_id": project["id"], "station_id": township["id"],
                    "title": "重阳节敬老活动", "kind": "festival", "held_on": today.isoformat(), "anonymous_count": 0}
        ticked = {"id": f"att-{uuid.uuid4().hex[:10]}", "activity_id": festival["id"], "beneficiary_id": person["id"]}
        changes = {"attendances": {"created": [ticked]}, "activities": {"created": [festival]},
                   "beneficiaries": {"created": [person]}}  # in no particular order, as a tablet may send
        await tablet.push(changes)
        await tablet.push(changes)  # the answer was lost and it pushes again: nothing doubles

        r = await gateway.get(f"/v1/activities/{festival['id']}/attendance", headers=head)
        assert r.status_code == 200, r.text
        assert [a["beneficiary_id"] for a in r.json()["items"]] == [person["id"]]
        await gateway.forget_stats()
        after = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
        assert after["person_times.community"]["value"] == before["person_times.community"]["value"] + 1
        assert after["beneficiaries.registered"]["value"] == before["beneficiaries.registered"]["value"] + 1
        pulled = updated(await tablet.pull(), "attendances")
        assert pulled[ticked["id"]]["populations"] == '["elderly"]'

        # Someone the casework service refuses (outside the subtree) fails the whole push in its
        # dry run: the activity it came with is not written either.
        stranger = tablet_beneficiary(station_id=gateway_tree["shuangqiao"]["id"])
        other = {**festival, "id": f"a-{uuid.uuid4().hex[:10]}"}
        r = await tablet.push({"beneficiaries": {"created": [stranger]}, "activities": {"created": [other]},
                               "attendances": {"created": [{"id": "att-x", "activity_id": other["id"],
                                                            "beneficiary_id": stranger["id"]}]}}, expect=403)
        assert r.json()["records"] == [{"table": "beneficiaries", "id": stranger["id"]}]
        assert (await gateway.get(f"/v1/activities/{other['id']}", headers=head)).status_code == 404

    async def test_the_attendance_of_a_person_registered_before(self, gateway, admin_headers, gateway_tree, db):
        """A push naming people already registered: the projects service checks them with the cases service
        as the device (the gateway's side of it: test_live_accounts.py TestTablets)."""
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        today = clock.today()
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
            "starts_on": today.isoformat(), "ends_on": today.isoformat()})
        assert r.status_code == 201, r.text
        project = r.json()
        r = await gateway.post("/v1/beneficiaries", headers=head, json={"name": "王秀兰", "populations": ["elderly"]})
        assert r.status_code == 201, r.text
        person = r.json()
        await tablet.pull()
        festival = {"id": f"a-{uuid.uuid4().hex[:10]}", "project_id": project["id"], "station_id": township["id"],
                    "title": "重阳节敬老活动", "kind": "festival", "held_on": today.isoformat(), "anonymous_count": 0}
        ticked = {"id": f"att-{uuid.uuid4().hex[:10]}", "activity_id": festival["id"], "beneficiary_id": person["id"]}
        await tablet.push({"activities": {"created": [festival]}, "attendances": {"created": [ticked]}})
        r = await gateway.get(f"/v1/activities/{festival['id']}/attendance", headers=head)
        assert r.status_code == 200, r.text
        assert [(a["id"], a["populations"]) for a in r.json()["items"]] == [(ticked["id"], ["elderly"])]

    async def test_scope_schema_and_migration(self, gateway, admin_headers, gateway_tree, db):
        r = await gateway.get("/v1/sync/schema")
        assert r.status_code == 200
        schema = r.json()
        assert schema["version"] == 5
        tables = {t["name"]: t for t in schema["tables"]}
        # Version 5: steps pushed by tablets, and the approvals they wait for (read-only).
        assert tables["approvals"]["since"] == 5
        assert {c["name"] for c in tables["cases"]["columns"]} >= {"pending_step", "step", "step_on", "step_reason"}
        # Version 4: the attachments' metadata, read-only (tablets upload the files).
        assert {t: tables[t]["since"] for t in ("case_attachments", "project_attachments", "volunteer_attachments")} \
            == dict.fromkeys(("case_attachments", "project_attachments", "volunteer_attachments"), 4)
        assert tables["referrals"]["since"] == 2
        # Version 3: a volunteer's shift past midnight is one record that ends the next day.
        assert "ends_on" in {c["name"] for c in tables["volunteer_hours"]["columns"]}
        before = (await gateway.get("/v1/sync/schema", params={"version": 2})).json()
        assert "ends_on" not in {c["name"] for t in before["tables"] if t["name"] == "volunteer_hours"
                                 for c in t["columns"]}
        columns = {c["name"]: c for c in tables["beneficiaries"]["columns"]}
        assert columns["station_id"]["type"] == "number" and columns["id_number"].get("writeonly")
        old = (await gateway.get("/v1/sync/schema", params={"version": 1})).json()
        assert "referrals" not in {t["name"] for t in old["tables"]}

        village = gateway_tree["heping"]
        staff = await users(gateway, admin_headers, gateway_tree, ("zhou.worker", "social_worker", "heping"))
        worker = staff["zhou.worker"]
        r = await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "赵大爷", "populations": ["elderly"]})
        r = await gateway.post("/v1/cases", headers=worker, json={
            "beneficiary_id": r.json()["id"], "title": "低保申请", "opened_on": clock.today().isoformat()})
        case = r.json()
        r = await gateway.post(f"/v1/cases/{case['id']}/referrals", headers=worker, json={
            "agency": "街道民政办", "referred_on": clock.today().isoformat()})
        assert r.status_code == 201, r.text
        referral = r.json()

        r = await gateway.post("/v1/devices", headers=admin_headers, json={"station_id": village["id"], "name": "村平板"})
        tablet = Tablet(gateway, r.json()["credential"], db)
        # A tablet still on schema 1 gets no referrals (the table came with version 2).
        first = await tablet.pull(schema_version="1")
        assert "referrals" not in first["changes"] and case["id"] in updated(first, "cases")
        # A record for a station outside the village's subtree is refused, naming it.
        outside = tablet_beneficiary(station_id=gateway_tree["shuangqiao"]["id"])
        r = await tablet.push({"beneficiaries": {"created": [outside]}}, expect=403)
        assert r.json()["records"] == [{"table": "beneficiaries", "id": outside["id"]}]
        r = await tablet.push({"no_such_table": {"created": []}}, expect=422)
        assert r.json()["errors"][0]["field"] == "changes.no_such_table"

        # Migrating to 2, it gets referrals whole, the one written before its last pull included;
        # records of unchanged tables written before that pull are not sent again.
        body = await tablet.pull(migration='{"from": 1, "tables": ["referrals"], "columns": []}')
        assert list(updated(body, "referrals")) == [referral["id"]]
        assert updated(body, "cases") == {}
        # Migrating on from 2 to 5, it gets the cases whole (version 5 gave them columns) and the approvals.
        body = await tablet.pull(schema_version="5", migration='{"from": 2, "tables": ["approvals"], "columns": []}')
        assert updated(body, "cases")[case["id"]]["pending_step"] is None and updated(body, "referrals") == {}
        r = await gateway.get("/v1/sync", headers=tablet.headers, params={"last_pulled_at": "12345678"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "last_pulled_at"


class TestConnectionsHeldBySync:
    """At the province's morning storm (bench scenario 8, 4,451 tablets), every tablet's pull held
    one of the gateway's database connections while it streamed and then asked for a second to write
    its timestamp: once as many pulls were streaming as the pool had connections, each waited for
    another's, the pool timed out after 30 s, and every sync answered 503 from then on. A pull or a
    push now holds a connection only while it reads or writes the gateway's own rows."""

    async def test_pulls_and_pushes_on_a_one_connection_pool(self, gateway_factory, db):
        import asyncio

        small = await gateway_factory(db_pool_size=1, db_max_overflow=0)
        admin = await small.admin()
        root = (await small.get("/v1/stations", headers=admin)).json()["items"][0]
        township = await small.station(admin, root["id"], "township", "Pool")
        r = await small.post("/v1/devices", headers=admin, json={"station_id": township["id"], "name": "平板"})
        assert r.status_code == 201, r.text
        tablets = [Tablet(small, r.json()["credential"], db) for _ in range(2)]
        await small.pushed()

        async def sync(tablet: Tablet) -> None:
            await tablet.pull()
            await tablet.push({"beneficiaries": {"created": [tablet_beneficiary(station_id=township["id"])],
                                                 "updated": [], "deleted": []}})
            await tablet.pull()

        # Before: the first pull never ended (it waited for the connection it held itself).
        for tablet in tablets:
            await asyncio.wait_for(sync(tablet), timeout=20)
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary WHERE station_id = $1",
                                 township["id"]) == len(tablets)


class TestTheLastSync:
    async def test_a_pull_sets_the_tablets_last_sync_and_keeps_its_newest_timestamps(
            self, gateway, admin_headers, gateway_tree, db):
        _, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        listed = (await gateway.get("/v1/devices", headers=head)).json()
        assert [d["last_sync_at"] for d in listed] == [None]
        device_rows = "SELECT count(*) FROM gateway.audit_log WHERE record_table = 'device'"
        audited = await db.fetchval(device_rows)

        stamps = [(await tablet.pull())["timestamp"] for _ in range(3)]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3
        synced = (await gateway.get("/v1/devices", headers=head)).json()[0]["last_sync_at"]
        assert synced is not None
        assert abs((datetime.fromisoformat(synced) - datetime.now(UTC)).total_seconds()) < 60
        # The last sync is bookkeeping, not a change of the device: no audit row for it (each pull's
        # read of its station's records is audited, as before).
        assert await db.fetchval(device_rows) == audited
        assert await db.fetchval("SELECT count(*) FROM gateway.audit_log WHERE action = 'read' "
                                 "AND record_table = 'station'") == 3

        # Only the newest few timestamps of a tablet are kept; each pull's own is always among them.
        for _ in range(4):
            await tablet.pull()
        kept = [r["id"] for r in await db.fetch(
            "SELECT id FROM gateway.sync_cursor WHERE device_id = "
            "(SELECT device_id FROM gateway.sync_cursor WHERE id = $1) ORDER BY id", tablet.last_pulled_at)]
        assert len(kept) == 5 and kept[-1] == tablet.last_pulled_at
