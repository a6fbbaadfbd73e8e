"""Station tablets as a stock WatermelonDB 0.28 app runs them (tests/watermelon.py), against the
gateway: the local schema built from /v1/sync/schema, what a tablet holds after syncing, and
what its whole-row pushes do to records others corrected."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from shared import clock
from tests.fixtures.sync import settle
from tests.watermelon import (HaolinBackend, LocalDatabase, Migration, SyncFailed, Tablet, WatermelonError, add_columns,
                              create_table, schema_from_server, schema_migrations)


def doc_migrations(v2: dict):
    """The migrations docs/sync.md shows: from version 1 to 2, the referrals table and the
    service records' resources_yuan column (the columns as the version-2 schema serves them)."""
    tables = {t["name"]: t for t in v2["tables"]}
    resources = [c for c in tables["service_records"]["columns"] if c["name"] == "resources_yuan"]
    return schema_migrations([Migration(2, (create_table("referrals", tables["referrals"]["columns"]),
                                            add_columns("service_records", resources)))])


async def served_schema(gateway, version: int | None = None) -> dict:
    r = await gateway.get("/v1/sync/schema", params={"version": version} if version else None)
    assert r.status_code == 200, r.text
    return r.json()


async def new_tablet(gateway, db, credential: str, version: int = 2) -> Tablet:
    """A fresh install of the app at schema `version`, its schema mapped from the server's."""
    schema = await served_schema(gateway, version)
    migrations = doc_migrations(await served_schema(gateway, 2)) if version == 2 else schema_migrations([])
    return Tablet(LocalDatabase(schema_from_server(schema), migrations),
                  HaolinBackend(gateway, credential, before_pull=lambda: settle(db)))


async def register_tablet(gateway, head: dict, station_id: int, name: str = "平板") -> str:
    r = await gateway.post("/v1/devices", headers=head, json={"station_id": station_id, "name": name})
    assert r.status_code == 201, r.text
    return r.json()["credential"]


@pytest.fixture
async def township(gateway, admin_headers, gateway_tree) -> dict:
    """The township with its head and a social worker logged in."""
    station = gateway_tree["mengzhuiwan"]
    await gateway.user(admin_headers, "chen.head", "station_head", station["id"])
    await gateway.user(admin_headers, "li.worker", "social_worker", station["id"])
    await gateway.app.state.pusher.sync_now()
    return {**station, "head": await gateway.headers_for("chen.head"),
            "worker": await gateway.headers_for("li.worker")}


SYNC_DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"


class TestLocalSchema:
    async def test_the_docs_show_the_real_schema_and_migration(self, gateway):
        """docs/sync.md's example schema is an excerpt of the real one, and its 1 -> 2 migration
        creates the referrals table with the columns version 2 serves."""
        doc = SYNC_DOC.read_text()
        example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))
        served = await served_schema(gateway)
        tables = {t["name"]: t for t in served["tables"]}
        assert example["version"] == served["version"]
        for table in example["tables"]:
            real = tables[table["name"]]
            assert table["since"] == real["since"]
            columns = {c["name"]: c for c in real["columns"]}
            for column in table["columns"]:
                assert column == columns[column["name"]], (table["name"], column)
        js = re.search(r"createTable\(\{\s*name: 'referrals',\s*columns: \[(.*?)\]", doc, re.S).group(1)
        shown = [{"name": m[0], "type": m[1], **({"isOptional": True} if m[2] else {}),
                  **({"isIndexed": True} if m[3] else {})}
                 for m in re.findall(r"\{ name: '(\w+)', type: '(\w+)'(, isOptional: true)?(, isIndexed: true)? \}", js)]
        assert shown == [{k: v for k, v in c.items() if k not in ("readonly", "writeonly")}
                         for c in tables["referrals"]["columns"]]


    async def test_every_table_of_every_version_passes_appschema(self, gateway):
        """The development build of WatermelonDB checks each column as tableSchema() builds it:
        reserved and unsafe names, the three types, created_at/updated_at numbers and not optional."""
        for version in (1, 2):
            served = await served_schema(gateway, version)
            for table in served["tables"]:
                try:
                    schema_from_server({"version": version, "tables": [table]})
                except WatermelonError as exc:
                    pytest.fail(f"version {version}, table {table['name']}: {exc}")
                stamps = {c["name"]: c for c in table["columns"] if c["name"] in ("created_at", "updated_at")}
                assert set(stamps) == {"created_at", "updated_at"}, table["name"]

    async def test_the_documented_migration_is_what_version_2_added(self, gateway):
        """A fresh install at version 2 with migrationsEnabledAtVersion: 1 needs the 1 -> 2 migration
        (WatermelonDB refuses migrations that do not reach the schema's version): the one the
        docs show adds exactly what the server says version 2 added."""
        v1, v2 = await served_schema(gateway, 1), await served_schema(gateway, 2)
        old = {t["name"]: {c["name"] for c in t["columns"]} for t in v1["tables"]}
        new = {t["name"]: {c["name"] for c in t["columns"]} for t in v2["tables"]}
        added_tables = set(new) - set(old)
        added_columns = {t: new[t] - old[t] for t in old if new[t] - old[t]}
        migrations = doc_migrations(v2)
        steps = migrations.migrations[0].steps
        assert {s["schema"].name for s in steps if s["type"] == "create_table"} == added_tables == {"referrals"}
        assert {s["table"]: {c["name"] for c in s["columns"]} for s in steps if s["type"] == "add_columns"} == \
            added_columns == {"service_records": {"resources_yuan"}}
        with pytest.raises(WatermelonError, match="Missing migration"):
            LocalDatabase(schema_from_server(v2), schema_migrations([]))
        LocalDatabase(schema_from_server(v2), migrations)


async def rest_patch(gateway, headers: dict, path: str, body: dict) -> dict:
    current = await gateway.get(path, headers=headers)
    assert current.status_code == 200, current.text
    r = await gateway.patch(path, json=body, headers={**headers, "If-Match": current.headers["etag"]})
    assert r.status_code == 200, r.text
    return r.json()


class TestWriteOnlyColumns:
    """ID numbers and phones are taken from a tablet, never given back in full: the tablet is
    served null in their place (and the masked form beside them), and a push that does not
    change one leaves the stored value alone."""

    async def test_a_stale_phone_does_not_undo_a_rest_correction(self, gateway, township, db):
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"]))
        await tablet.sync()
        # 1. The tablet registers a person with phone A.
        person = tablet.db.create("beneficiaries", name="王秀兰", phone="13800000001", populations='["elderly"]',
                                  station_id=township["id"], address="和平村3组")
        await tablet.sync()
        # 2. A worker corrects the phone to B through REST.
        path = f"/v1/beneficiaries/{person}"
        await rest_patch(gateway, township["worker"], path, {"phone": "13900000002"})
        # 3. The tablet pulls (it is served the masked phone only), then edits the address.
        await tablet.sync()
        assert tablet.db.find("beneficiaries", person)["phone_masked"] == "139****0002"
        tablet.db.update("beneficiaries", person, address="和平村5组")
        # 4. WatermelonDB pushes the whole row: the correction stands, the address changes.
        await tablet.sync()
        assert "address" in tablet.backend.pushes[-1]["beneficiaries"]["updated"][0]["_changed"]
        got = (await gateway.get(path, headers=township["worker"])).json()
        assert (got["phone"], got["address"]) == ("13900000002", "和平村5组")

    async def test_a_stale_volunteer_phone_does_not_undo_a_rest_correction(self, gateway, township, db):
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"]))
        await tablet.sync()
        volunteer = tablet.db.create("volunteers", name="刘志愿", id_type="mainland_id",
                                     id_number="11010519491231002X", phone="13800000003", station_id=township["id"],
                                     skills='["助老"]', available_times="[]", disclosure_consent=True)
        await tablet.sync()
        path = f"/v1/volunteers/{volunteer}"
        await rest_patch(gateway, township["worker"], path, {"phone": "13900000004"})
        await tablet.sync()
        tablet.db.update("volunteers", volunteer, skills='["助老","陪诊"]')
        await tablet.sync()
        got = (await gateway.get(path, headers=township["worker"])).json()
        assert (got["phone"], got["skills"]) == ("13900000004", ["助老", "陪诊"])
        assert got["id_number"] == "11010519491231002X"

    async def test_no_tablet_keeps_a_full_id_number_or_phone(self, gateway, township, db):
        """Tablets get lost: after one sync of each, none holds a person's full ID number or
        phone, not even the one they were entered on; the server keeps them in full."""
        a = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"], "甲"))
        b = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"], "乙"))
        await a.sync()
        await b.sync()
        secrets = {"id_number": "510104198001011236", "phone": "13812345678", "contact": "13900001111",
                   "volunteer_id_number": "11010519491231002X", "volunteer_phone": "13700007777"}
        person = a.db.create("beneficiaries", name="张桂芳", id_number=secrets["id_number"], phone=secrets["phone"],
                             emergency_contact=f'{{"name":"王芳","phone":"{secrets["contact"]}"}}',
                             populations='["elderly"]', station_id=township["id"])
        volunteer = a.db.create("volunteers", name="刘志愿", id_type="mainland_id",
                                id_number=secrets["volunteer_id_number"], phone=secrets["volunteer_phone"],
                                station_id=township["id"], skills="[]", available_times="[]",
                                disclosure_consent=True)
        await a.sync()
        await b.sync()

        for name, tablet in (("甲", a), ("乙", b)):
            held = " ".join(str(v) for v in tablet.db.values())
            assert not [k for k, v in secrets.items() if v in held], name
            row = tablet.db.find("beneficiaries", person)
            assert row["id_number_masked"] == "5101**********1236" and row["phone_masked"] == "138****5678", name
            assert tablet.db.find("volunteers", volunteer)["name"] == "刘志愿", name
        got = (await gateway.get(f"/v1/beneficiaries/{person}", headers=township["worker"])).json()
        assert (got["id_number"], got["phone"], got["emergency_contact"]["phone"]) == (
            secrets["id_number"], secrets["phone"], secrets["contact"])
        got = (await gateway.get(f"/v1/volunteers/{volunteer}", headers=township["worker"])).json()
        assert (got["id_number"], got["phone"]) == (secrets["volunteer_id_number"], secrets["volunteer_phone"])


class TestRestoredBackup:
    async def test_records_deleted_on_the_server_leave_a_restored_tablet(self, gateway, township, db):
        """A tablet restored from an old backup holds a timestamp the gateway has forgotten: its
        pull is refused (unknown_cursor), the app pulls everything, and the answer tells
        WatermelonDB to replace its records with it: what the server deleted meanwhile goes, the
        tablet's own unpushed work stays and is pushed."""
        worker = township["worker"]
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"]))
        people = {}
        for name in ("留下", "已删"):
            r = await gateway.post("/v1/beneficiaries", headers=worker, json={"name": name, "populations": ["elderly"]})
            assert r.status_code == 201, r.text
            people[name] = r.json()["id"]
        kept, gone = people["留下"], people["已删"]
        await tablet.sync()
        backup = tablet.db.snapshot()

        r = await gateway.delete(f"/v1/beneficiaries/{gone}", headers={**worker, "If-Match": '"1"'})
        assert r.status_code == 204, r.text
        for _ in range(6):  # the gateway keeps a tablet's newest few timestamps, not the backup's
            await tablet.sync()
        assert tablet.db.find("beneficiaries", gone) is None

        tablet.db = backup
        tablet.db.update("beneficiaries", gone, address="和平村1组")
        tablet.db.update("beneficiaries", kept, address="和平村9组")
        newcomer = tablet.db.create("beneficiaries", name="新来", populations='["elderly"]', station_id=township["id"])
        del tablet.backend.strategies[:]
        await tablet.sync()
        assert tablet.backend.strategies == ["replacement", None]  # the full pull, then the one after the push

        assert gone not in tablet.db.tables["beneficiaries"]
        assert {r["id"] for r in tablet.db.all("beneficiaries")} == {kept, newcomer}
        assert all(r["_status"] == "synced" for r in tablet.db.all("beneficiaries"))
        assert (await gateway.get(f"/v1/beneficiaries/{kept}", headers=worker)).json()["address"] == "和平村9组"
        assert (await gateway.get(f"/v1/beneficiaries/{newcomer}", headers=worker)).status_code == 200
        assert (await gateway.get(f"/v1/beneficiaries/{gone}", headers=worker)).status_code == 404


class TestCaseStation:
    async def test_a_pushed_case_is_filed_at_its_beneficiarys_station(self, gateway, township, gateway_tree, db):
        """A township tablet's case for a village person is the village's, as the person is; a case
        filed outside the person's subtree is refused, naming it."""
        village = gateway_tree["heping"]
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, township["head"], township["id"]))
        await tablet.sync()
        person = tablet.db.create("beneficiaries", name="赵大爷", populations='["elderly"]', station_id=village["id"])
        case = tablet.db.create("cases", beneficiary_id=person, title="低保申请", opened_on=clock.today().isoformat())
        await tablet.sync()
        got = await gateway.get(f"/v1/cases/{case}", headers=township["worker"])
        assert got.status_code == 200 and got.json()["station_id"] == village["id"]
        assert tablet.db.find("cases", case)["station_id"] == village["id"]

        wrong = tablet.db.create("cases", beneficiary_id=person, title="入户", station_id=township["id"])
        with pytest.raises(SyncFailed) as refused:
            await tablet.sync()
        assert refused.value.status == 422 and refused.value.body["instance"] == "/v1/sync"
        assert [e["field"] for e in refused.value.body["errors"]] == [f"changes.cases.{wrong}.station_id"]
        assert (await gateway.get(f"/v1/cases/{wrong}", headers=township["worker"])).status_code == 404
        # What the app does with a record refused for good: tell the worker, and drop it.
        tablet.db.destroy_permanently("cases", wrong)
        await tablet.sync()


async def review_list(gateway, headers: dict, **params) -> dict[str, dict]:
    r = await gateway.get("/v1/review", headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return {item["id"]: item for item in r.json()["items"]}


class TestSoftRules:
    """A record a tablet pushes that breaks a data-quality rule is accepted and flagged for
    review (a tablet cannot fix it on the spot, and refusing it would refuse every later push);
    correcting it, on the tablet or through REST, clears the flag. REST still refuses it."""

    async def test_a_visit_dated_before_its_case_opened(self, gateway, township, db):
        head, worker = township["head"], township["worker"]
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, head, township["id"]))
        await tablet.sync()
        today = clock.today()
        person = tablet.db.create("beneficiaries", name="钱奶奶", populations='["elderly"]', station_id=township["id"])
        case = tablet.db.create("cases", beneficiary_id=person, title="居家照护",
                                opened_on=(today - timedelta(days=5)).isoformat())
        early = tablet.db.create("service_records", case_id=case, served_on=(today - timedelta(days=9)).isoformat(),
                                 mode="home_visit", content="入户探访", service_type="elder_child_care", person_times=1)
        await tablet.sync()

        path = f"/v1/cases/{case}/service-records/{early}"
        got = (await gateway.get(path, headers=worker)).json()
        assert [(f["code"], f["field"]) for f in got["review"]] == [("before_opened", "served_on")]
        listed = await review_list(gateway, head)
        assert listed[early]["table"] == "service_records" and listed[early]["path"] == path
        assert listed[early]["station_id"] == township["id"] and listed[early]["review"] == got["review"]
        # Nothing blocks the tablet's next pushes.
        later = tablet.db.create("service_records", case_id=case, served_on=today.isoformat(), mode="phone",
                                 content="电话回访", service_type="elder_child_care", person_times=1)
        await tablet.sync()
        assert (await gateway.get(f"/v1/cases/{case}/service-records/{later}", headers=worker)).json()["review"] is None
        # REST refuses the same mistake: its caller can fix it at once.
        r = await gateway.patch(path, headers={**worker, "If-Match": f'"{got["version"]}"'},
                                json={"served_on": (today - timedelta(days=8)).isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "before_opened"

        tablet.db.update("service_records", early, served_on=(today - timedelta(days=2)).isoformat())
        await tablet.sync()
        assert (await gateway.get(path, headers=worker)).json()["review"] is None
        assert early not in await review_list(gateway, head)

    async def test_a_birth_date_that_differs_from_the_id_number(self, gateway, township, db):
        head, worker = township["head"], township["worker"]
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, head, township["id"]))
        await tablet.sync()
        person = tablet.db.create("beneficiaries", name="孙大爷", id_number="510104198001011236", birth_on="1980-10-01",
                                  populations='["elderly"]', station_id=township["id"])
        await tablet.sync()
        path = f"/v1/beneficiaries/{person}"
        got = (await gateway.get(path, headers=worker)).json()
        assert got["birth_on"] == "1980-10-01"
        assert [(f["code"], f["field"]) for f in got["review"]] == [("mismatch", "birth_on")]
        assert (await review_list(gateway, head))[person]["path"] == path
        fixed = await rest_patch(gateway, worker, path, {"birth_on": "1980-01-01"})
        assert fixed["review"] is None and person not in await review_list(gateway, head)

    async def test_a_volunteer_over_24_hours_in_a_day(self, gateway, township, db):
        head, worker = township["head"], township["worker"]
        day = (clock.today() - timedelta(days=1)).isoformat()
        r = await gateway.post("/v1/volunteers", headers=worker, json={"name": "周志愿",
                                                                       "id_number": "11010519491231002X"})
        assert r.status_code == 201, r.text
        volunteer = r.json()["id"]
        r = await gateway.post("/v1/volunteer-hours", headers=worker, json={
            "volunteer_id": volunteer, "served_on": day, "hours": "10", "content": "助老送餐"})
        assert r.status_code == 201, r.text
        recorded = r.json()
        tablet = await new_tablet(gateway, db, await register_tablet(gateway, head, township["id"]))
        await tablet.sync()
        # Offline, the tablet records 16 more hours on the same day: 26 in all.
        pushed = tablet.db.create("volunteer_hours", volunteer_id=volunteer, served_on=day, hours=16,
                                  content="重阳节活动", activity_kind="free_text", station_id=township["id"])
        await tablet.sync()
        path = f"/v1/volunteer-hours/{pushed}"
        got = (await gateway.get(path, headers=worker)).json()
        assert [(f["code"], f["field"]) for f in got["review"]] == [("over_24_a_day", "hours")]
        assert float(got["hours"]) == 16 and (await review_list(gateway, head))[pushed]["path"] == path
        # The worker finds the REST record was the wrong one and corrects it: the day is 22 hours,
        # and the tablet's record is no longer flagged.
        r = await gateway.post(f"/v1/volunteer-hours/{recorded['id']}/correct", json={"hours": "6", "reason": "核实"},
                               headers={**worker, "If-Match": f'"{recorded["version"]}"'})
        assert r.status_code == 200, r.text
        assert (await gateway.get(path, headers=worker)).json()["review"] is None
        assert pushed not in await review_list(gateway, head)


class TestVisitsTable:
    async def test_the_visits_table_passes_appschema_and_the_docs_migration_creates_it(self, gateway):
        served = await served_schema(gateway, 5)
        tables = {t["name"]: t for t in served["tables"]}
        assert tables["visits"]["since"] == 5
        schema_from_server({"version": 5, "tables": [tables["visits"]]})  # WatermelonDB's own checks
        assert "visits" not in {t["name"] for t in (await served_schema(gateway, 4))["tables"]}
        step = re.search(r"toVersion: 5,.*?name: 'visits',\s*columns: \[(.*?)\]", SYNC_DOC.read_text(), re.S)
        shown = [{"name": m[0], "type": m[1], **({"isOptional": True} if m[2] else {}),
                  **({"isIndexed": True} if m[3] else {})}
                 for m in re.findall(r"\{ name: '(\w+)', type: '(\w+)'(, isOptional: true)?(, isIndexed: true)? \}",
                                     step.group(1))]
        assert shown == [{k: v for k, v in c.items() if k not in ("readonly", "writeonly")}
                         for c in tables["visits"]["columns"]]
