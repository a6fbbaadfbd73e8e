"""Offline sync, the cases half: /internal/sync/pull and /push over beneficiaries, cases,
service records and referrals, called as the gateway calls them (service token)."""

import asyncio
import json
import uuid
from datetime import timedelta

import pytest

from shared.principals import Principal, Role
from shared.sync import DEVICE_TOKEN_HEADER
from tests.fixtures.calls import with_etag
from tests.fixtures.people import ID_BORN_1955, ID_BORN_1980
from tests.fixtures.sync import pulled

pytestmark = pytest.mark.usefixtures("tree")

# Every table a pull reads changes from, departures (transfers) included.
RECORD_TABLES = ("beneficiary", "case", "service_record", "referral", "visit", "transfer", "sync_departure")


async def settle(db) -> None:
    """Wait until every cases row written so far lies below the oldest running transaction
    (cluster-wide: another test run on the server can hold it back), so the next pull's
    cursor is above them and "written after the cursor" means exactly that."""
    newest = " UNION ALL ".join(f'(SELECT change_xid FROM cases."{t}" ORDER BY change_xid DESC LIMIT 1)'
                                for t in RECORD_TABLES)
    query = (f"SELECT coalesce(pg_snapshot_xmin(pg_current_snapshot()) > "
             f"(SELECT change_xid FROM ({newest}) n ORDER BY change_xid DESC LIMIT 1), true)")
    for _ in range(400):
        if await db.fetchval(query):
            return
        await asyncio.sleep(0.025)
    raise AssertionError("a transaction elsewhere held the snapshot back for 10 s")


async def pull(client, service_headers, db, station_path="/1/2/", since=None, **extra):
    """(cursor, {table: {id: row}}, {table: [deleted ids]}) from the NDJSON stream."""
    await settle(db)
    r = await client.post("/internal/sync/pull", json={"station_path": station_path, "since": since, **extra},
                          headers=service_headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return pulled(r)


async def push(client, service_headers, changes, since=None, expect=204, station_id=2, station_path="/1/2/",
               check_only=False):
    body = {"station_id": station_id, "station_path": station_path, "device_id": "tab-1", "since": since,
            "check_only": check_only,
            "changes": {t: {"created": c.get("created", []), "updated": c.get("updated", []),
                            "deleted": c.get("deleted", [])} for t, c in changes.items()}}
    r = await client.post("/internal/sync/push", json=body, headers=service_headers)
    assert r.status_code == expect, r.text
    return r.json() if r.content else None


async def stats(client, service_headers, today, *metrics):
    r = await client.post("/internal/stats", headers=service_headers, json={
        "station_path": "/1/", "from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat(),
        "metrics": list(metrics)})
    assert r.status_code == 200, r.text
    got = {m: 0 for m in metrics}
    got.update({row["metric"]: row["value"] for row in r.json()["rows"]})
    return got


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def tablet_beneficiary(**fields):
    return {"id": uid("b"), "name": "王五", "populations": '["elderly"]', "_status": "created", "_changed": "",
            **fields}


def tablet_case(beneficiary_id, today, **fields):
    return {"id": uid("c"), "beneficiary_id": beneficiary_id, "title": "入户照护",
            "opened_on": (today - timedelta(days=5)).isoformat(), **fields}


def tablet_service_record(case_id, today, **fields):
    return {"id": uid("sr"), "case_id": case_id, "served_on": today.isoformat(), "mode": "home_visit",
            "content": "入户探访", "service_type": "elder_child_care", "person_times": 1, **fields}


async def rest_service_record(client, headers, case_id, today, **fields):
    r = await client.post(f"/v1/cases/{case_id}/service-records", headers=headers, json={
        "served_on": today.isoformat(), "mode": "phone", "content": "电话回访", "service_type": "social_assistance",
        **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def rest_referral(client, headers, case_id, today):
    r = await client.post(f"/v1/cases/{case_id}/referrals", headers=headers,
                          json={"agency": "区残联", "referred_on": today.isoformat()})
    assert r.status_code == 201, r.text
    return r.json()


class TestPull:
    async def test_first_pull_serves_the_subtree_with_wire_values(self, cases_client, service_headers, db, worker,
                                                                  sibling, register, open_case, today):
        mine = await register(worker, id_number=ID_BORN_1980, phone="13812345678", populations=["elderly", "disabled"],
                              emergency_contact={"name": "王芳", "relation": "女儿", "phone": "13900001111"})
        theirs = await register(sibling, name="李四")
        gone = await register(worker, name="已删")
        assert (await cases_client.delete(f"/v1/beneficiaries/{gone['id']}",
                                          headers=with_etag(worker, '"1"'))).status_code == 204
        case = await open_case(worker, mine["id"], opened_on=(today - timedelta(days=3)).isoformat())
        record = await rest_service_record(cases_client, worker, case["id"], today, duration_minutes=30,
                                           resources_yuan="12.50", person_times=2)
        referral = await rest_referral(cases_client, worker, case["id"], today)
        their_case = await open_case(sibling, theirs["id"])

        cursor, rows, deleted = await pull(cases_client, service_headers, db)
        assert int(cursor) > 0 and deleted == {}
        assert set(rows["beneficiaries"]) == {mine["id"]}
        assert set(rows["cases"]) == {case["id"]}
        assert set(rows["service_records"]) == {record["id"]} and set(rows["referrals"]) == {referral["id"]}

        b = rows["beneficiaries"][mine["id"]]
        assert b["name"] == "张三丰" and b["birth_on"] == "1980-01-01" and b["station_id"] == 2
        assert json.loads(b["populations"]) == ["elderly", "disabled"] and json.loads(b["consents"]) == []
        assert b["id_number_masked"] == "5101**********" + ID_BORN_1980[-4:] and b["phone_masked"] == "138****5678"
        assert json.loads(b["emergency_contact_masked"]) == {"name": "王*", "relation": "**", "phone": "139****1111"}
        assert b["registered_on"] == today.isoformat()
        assert isinstance(b["created_at"], int) and isinstance(b["updated_at"], int)
        # No full sensitive value (null in its place), ciphertext, blind index or record internals.
        assert (b["id_number"], b["phone"], b["emergency_contact"]) == (None, None, None)
        assert not {"id_number_enc", "id_number_bidx", "phone_enc", "station_path", "version", "create_digest",
                    "deleted_at", "created_by"} & set(b)
        assert ID_BORN_1980 not in json.dumps(rows, ensure_ascii=False)

        c = rows["cases"][case["id"]]
        assert c["beneficiary_id"] == mine["id"] and c["status"] == "intake" and c["station_id"] == 2
        assert c["opened_on"] == (today - timedelta(days=3)).isoformat() and c["closed_on"] is None
        assert json.loads(c["populations"]) == ["elderly", "disabled"] and c["worker_id"] == "w2"
        s = rows["service_records"][record["id"]]
        assert s == {**s, "case_id": case["id"], "beneficiary_id": mine["id"], "served_on": today.isoformat(),
                     "mode": "phone", "duration_minutes": 30, "person_times": 2, "resources_yuan": 12.5,
                     "service_type": "social_assistance", "station_id": 2}
        assert rows["referrals"][referral["id"]]["status"] == "pending"

        _, city, _ = await pull(cases_client, service_headers, db, station_path="/1/")
        assert set(city["beneficiaries"]) == {mine["id"], theirs["id"]}
        assert set(city["cases"]) == {case["id"], their_case["id"]}
        _, other, _ = await pull(cases_client, service_headers, db, station_path="/9/")
        assert other == {}

    async def test_since_serves_later_writes_and_tombstones(self, cases_client, service_headers, db, worker,
                                                            register, open_case, today):
        changed = await register(worker, name="甲")
        untouched = await register(worker, name="乙")
        case = await open_case(worker, changed["id"])
        record = await rest_service_record(cases_client, worker, case["id"], today)
        referral = await rest_referral(cases_client, worker, case["id"], today)
        cursor, first, _ = await pull(cases_client, service_headers, db)
        assert set(first["beneficiaries"]) == {changed["id"], untouched["id"]}

        assert (await cases_client.patch(f"/v1/beneficiaries/{changed['id']}", json={"name": "甲二"},
                                         headers=with_etag(worker, '"1"'))).status_code == 200
        assert (await cases_client.delete(f"/v1/cases/{case['id']}/service-records/{record['id']}",
                                          headers=with_etag(worker, '"1"'))).status_code == 204
        later, rows, deleted = await pull(cases_client, service_headers, db, since=cursor)
        assert int(later) > int(cursor)
        assert rows == {"beneficiaries": {changed["id"]: rows["beneficiaries"][changed["id"]]}}
        assert rows["beneficiaries"][changed["id"]]["name"] == "甲二"
        assert deleted == {"service_records": [record["id"]]}

        # Nothing new: nothing served.
        _, rows, deleted = await pull(cases_client, service_headers, db, since=later)
        assert rows == {} and deleted == {}

        # A tablet migrating from schema 1 gets the whole of the table version 2 added.
        _, rows, _ = await pull(cases_client, service_headers, db, since=later, full_tables=["referrals"])
        assert set(rows) == {"referrals"} and set(rows["referrals"]) == {referral["id"]}

    async def test_schema_describes_versions_and_sensitive_columns(self, cases_client, service_headers):
        r = await cases_client.get("/internal/sync/schema", headers=service_headers)
        assert r.status_code == 200
        tables = {t["name"]: t for t in r.json()["tables"]}
        assert [t["name"] for t in r.json()["tables"]] == ["beneficiaries", "cases", "service_records", "referrals",
                                                           "visits", "case_attachments", "approvals"]
        assert tables["approvals"]["since"] == 5 and tables["cases"]["columns_since"]["pending_step"] == 5
        assert tables["visits"]["since"] == 5
        assert tables["referrals"]["since"] == 2 and tables["service_records"]["since"] == 1
        assert tables["service_records"]["columns_since"]["resources_yuan"] == 2
        columns = {c["name"]: c for c in tables["beneficiaries"]["columns"]}
        assert columns["id_number"].get("writeonly") and columns["id_number_masked"].get("readonly")
        assert not any(k.endswith(("_enc", "_bidx")) for k in columns)
        assert {c["name"]: c["type"] for c in tables["service_records"]["columns"]}["resources_yuan"] == "number"
        assert {c["name"]: c.get("readonly") for c in tables["cases"]["columns"]}["status"]
        assert {c["name"]: c.get("readonly") for c in tables["referrals"]["columns"]}["status"]

    async def test_only_the_service_token(self, cases_client, worker):
        r = await cases_client.post("/internal/sync/pull", json={"station_path": "/1/2/"}, headers=worker)
        assert r.status_code == 401


class TestPush:
    async def test_pushed_creates_go_through_the_service_and_count(self, cases_client, service_headers, db,
                                                                   worker, sibling, today):
        before = await stats(cases_client, service_headers, today, "beneficiaries.registered", "cases.new",
                             "cases.open", "person_times.casework", "resources.linked_yuan")
        cursor, _, _ = await pull(cases_client, service_headers, db)
        b = tablet_beneficiary(id_number=ID_BORN_1980, phone="138 1234 5678", birth_on=None,
                               emergency_contact=json.dumps({"name": "王芳", "phone": "13900001111"}))
        c = tablet_case(b["id"], today, status="closed")  # status is read-only: the case opens at intake
        s = tablet_service_record(c["id"], today, person_times=3, resources_yuan=20.5, beneficiary_id="forged")
        ref = {"id": uid("ref"), "case_id": c["id"], "agency": "区民政局", "referred_on": today.isoformat(),
               "status": "completed"}
        # Children listed first: applied parents first all the same.
        await push(cases_client, service_headers, {"referrals": {"created": [ref]},
                                                   "service_records": {"created": [s]}, "cases": {"created": [c]},
                                                   "beneficiaries": {"created": [b]}}, since=cursor)

        got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert got["id_number"] == ID_BORN_1980 and got["birth_on"] == "1980-01-01" and got["phone"] == "13812345678"
        assert got["populations"] == ["elderly"] and got["station_id"] == 2 and got["created_by"] == "device:tab-1"
        assert got["emergency_contact"]["name"] == "王芳"
        case = (await cases_client.get(f"/v1/cases/{c['id']}", headers=worker)).json()
        assert case["status"] == "intake" and case["populations"] == ["elderly"]
        events = (await cases_client.get(f"/v1/cases/{c['id']}/events", headers=worker)).json()["items"]
        assert [e["action"] for e in events] == ["open"]
        record = (await cases_client.get(f"/v1/cases/{c['id']}/service-records/{s['id']}", headers=worker)).json()
        assert record["beneficiary_id"] == b["id"] and record["person_times"] == 3
        referral = (await cases_client.get(f"/v1/cases/{c['id']}/referrals/{ref['id']}", headers=worker)).json()
        assert referral["status"] == "pending"
        assert (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=sibling)).status_code == 404

        after = await stats(cases_client, service_headers, today, *before)
        assert {k: after[k] - before[k] for k in before} == {
            "beneficiaries.registered": 1, "cases.new": 1, "cases.open": 1, "person_times.casework": 3,
            "resources.linked_yuan": 20.5}

        # The tablet gets them back with the ID number masked only.
        _, rows, _ = await pull(cases_client, service_headers, db, since=cursor)
        served = rows["beneficiaries"][b["id"]]
        assert served["id_number"] is None and served["id_number_masked"].endswith(ID_BORN_1980[-4:])
        assert set(rows["service_records"]) == {s["id"]}

    async def test_repeated_creates_and_retries_converge(self, cases_client, service_headers, db, worker, today):
        # Nulls where the create defaulted (the device's station, the device as worker, low risk).
        b = tablet_beneficiary(id_number=ID_BORN_1980, station_id=None, consents=None)
        c = tablet_case(b["id"], today, worker_id=None, risk_level=None, project_id=None, station_id=None)
        changes = {"beneficiaries": {"created": [b]}, "cases": {"created": [c]}}
        await push(cases_client, service_headers, changes)
        await push(cases_client, service_headers, changes)  # the same push retried: nothing to do
        assert await db.fetchval("SELECT version FROM cases.beneficiary WHERE id = $1", b["id"]) == 1
        assert await db.fetchval("SELECT count(*) FROM cases.case_event WHERE case_id = $1", c["id"]) == 1
        assert tuple(await db.fetchrow("SELECT version, worker_id, risk_level FROM cases.case WHERE id = $1",
                                       c["id"])) == (1, "device:tab-1", "low")

        cursor, _, _ = await pull(cases_client, service_headers, db)
        # Created again with changes: an update. After a pull the tablet holds no ID number (null): kept.
        again = {**b, "name": "王五二", "id_number": None, "address": "  幸福村3组 "}
        for _ in range(2):  # the second time is a retry: accepted, nothing written
            await push(cases_client, service_headers, {"beneficiaries": {"created": [again]}}, since=cursor)
            got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker))
            assert got.headers["etag"] == '"2"'
            assert got.json()["name"] == "王五二" and got.json()["id_number"] == ID_BORN_1980
            assert got.json()["address"] == "幸福村3组"

        # A change of a write-only column alone is a change.
        cursor, _, _ = await pull(cases_client, service_headers, db)
        await push(cases_client, service_headers, {"beneficiaries": {"updated": [{**again, "id_number": ID_BORN_1955,
                                                                                   "birth_on": "1955-06-15"}]}},
                   since=cursor)
        got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert got["id_number"] == ID_BORN_1955 and got["version"] == 3

    async def test_a_write_only_value_counts_only_when_the_tablet_changed_it(self, cases_client, service_headers, db,
                                                                             worker, register):
        b = await register(worker, phone="13800000001", address="和平村3组")
        assert (await cases_client.patch(f"/v1/beneficiaries/{b['id']}", json={"phone": "13900000002"},
                                         headers=with_etag(worker, '"1"'))).status_code == 200
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        # WatermelonDB pushes whole rows: a tablet still holding the old phone edits the address only.
        stale = {**rows["beneficiaries"][b["id"]], "phone": "13800000001", "address": "和平村5组",
                 "_status": "updated", "_changed": "address,updated_at"}
        await push(cases_client, service_headers, {"beneficiaries": {"updated": [stale]}}, since=cursor)
        got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert (got["phone"], got["address"]) == ("13900000002", "和平村5组")
        # A phone the tablet did change counts.
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        await push(cases_client, service_headers, {"beneficiaries": {"updated": [
            {**rows["beneficiaries"][b["id"]], "phone": "13700000003", "_status": "updated",
             "_changed": "phone,updated_at"}]}}, since=cursor)
        got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert got["phone"] == "13700000003"

    async def test_update_of_a_record_changed_since_is_a_conflict(self, cases_client, service_headers, db, worker,
                                                                  register, open_case, today):
        b = await register(worker, name="甲")
        case = await open_case(worker, b["id"])
        record = await rest_service_record(cases_client, worker, case["id"], today)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        assert (await cases_client.patch(f"/v1/cases/{case['id']}/service-records/{record['id']}",
                                         json={"person_times": 4}, headers=with_etag(worker, '"1"'))).status_code == 200
        new = tablet_beneficiary()
        served = rows["service_records"][record["id"]]
        problem = await push(cases_client, service_headers, {
            "beneficiaries": {"created": [new], "updated": [{**rows["beneficiaries"][b["id"]], "name": "甲改"}]},
            "service_records": {"updated": [{**served, "person_times": 2}]}}, since=cursor, expect=409)
        assert problem["type"].endswith("sync-conflict")
        assert problem["records"] == [{"table": "service_records", "id": record["id"]}]
        assert (await cases_client.get(f"/v1/beneficiaries/{new['id']}", headers=worker)).status_code == 404
        assert (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()["name"] == "甲"
        assert await db.fetchval("SELECT person_times FROM cases.service_record WHERE id = $1", record["id"]) == 4

        # Pushing what the server already says is no conflict (a retry after a lost answer).
        await push(cases_client, service_headers, {"service_records": {"updated": [{**served, "person_times": 4}]}},
                   since=cursor)
        assert await db.fetchval("SELECT version FROM cases.service_record WHERE id = $1", record["id"]) == 2

    async def test_pushed_updates_go_through_the_service(self, cases_client, service_headers, db, worker, register,
                                                         open_case, today):
        b = await register(worker, populations=["elderly"])
        case = await open_case(worker, b["id"])
        record = await rest_service_record(cases_client, worker, case["id"], today, person_times=2)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        before = await stats(cases_client, service_headers, today, "person_times.casework", "resources.linked_yuan")
        served = rows["service_records"][record["id"]]
        await push(cases_client, service_headers, {
            "cases": {"updated": [{**rows["cases"][case["id"]], "title": "改标题", "risk_level": "high",
                                   "status": "closed", "_status": "updated", "_changed": "title,risk_level"}]},
            "service_records": {"updated": [{**served, "person_times": 5, "resources_yuan": 8}]}}, since=cursor)
        got = (await cases_client.get(f"/v1/cases/{case['id']}", headers=worker)).json()
        assert (got["title"], got["risk_level"], got["status"], got["version"]) == ("改标题", "high", "intake", 2)
        after = await stats(cases_client, service_headers, today, *before)
        assert after["person_times.casework"] - before["person_times.casework"] == 3
        assert after["resources.linked_yuan"] - before["resources.linked_yuan"] == 8

        # What a REST update could not change either is refused, naming the field.
        cursor, _, _ = await pull(cases_client, service_headers, db)
        problem = await push(cases_client, service_headers, {
            "service_records": {"updated": [{**served, "case_id": "other-case"}]}}, since=cursor, expect=422)
        assert problem["errors"][0]["field"] == f"changes.service_records.{record['id']}.case_id"

    async def test_deletes(self, cases_client, service_headers, db, worker, register, open_case, today):
        b = await register(worker)
        case = await open_case(worker, b["id"])
        record = await rest_service_record(cases_client, worker, case["id"], today, person_times=3)
        lone = await register(worker, name="乙")
        cursor, _, _ = await pull(cases_client, service_headers, db)
        before = await stats(cases_client, service_headers, today, "person_times.casework",
                             "beneficiaries.registered", "cases.open")

        # Unknown ids are ignored.
        await push(cases_client, service_headers, {"service_records": {"deleted": [record["id"], "no-such-id"]},
                                                   "beneficiaries": {"deleted": [lone["id"], "nobody"]}},
                   since=cursor)
        url = f"/v1/cases/{case['id']}/service-records/{record['id']}"
        assert (await cases_client.get(url, headers=worker)).status_code == 404
        assert (await cases_client.get(f"/v1/beneficiaries/{lone['id']}", headers=worker)).status_code == 404
        after = await stats(cases_client, service_headers, today, *before)
        assert after["person_times.casework"] - before["person_times.casework"] == -3
        assert after["beneficiaries.registered"] - before["beneficiaries.registered"] == -1

        # Deleting them again (a retry) changes nothing.
        cursor, _, deleted = await pull(cases_client, service_headers, db, since=cursor)
        assert deleted == {"beneficiaries": [lone["id"]], "service_records": [record["id"]]}
        await push(cases_client, service_headers, {"service_records": {"deleted": [record["id"]]}}, since=cursor)
        assert await stats(cases_client, service_headers, today, *before) == after

        # A beneficiary with a live case stays, and the refusal names it.
        problem = await push(cases_client, service_headers, {"beneficiaries": {"deleted": [b["id"]]}}, since=cursor,
                             expect=409)
        assert problem["records"] == [{"table": "beneficiaries", "id": b["id"]}]

        # A case and its records deleted in one push are counted back once (children go first);
        # an update of one of its records in the same push is applied, then deleted with the case.
        other = await rest_service_record(cases_client, worker, case["id"], today, person_times=2)
        third = await rest_service_record(cases_client, worker, case["id"], today, person_times=4)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        mid = await stats(cases_client, service_headers, today, *before)
        await push(cases_client, service_headers, {
            "cases": {"deleted": [case["id"]]},
            "service_records": {"updated": [{**rows["service_records"][third["id"]], "person_times": 9}],
                                "deleted": [other["id"]]}}, since=cursor)
        end = await stats(cases_client, service_headers, today, *before)
        assert end["person_times.casework"] - mid["person_times.casework"] == -6
        assert end["cases.open"] - mid["cases.open"] == -1
        assert await db.fetchval("SELECT count(*) FROM cases.service_record WHERE case_id = $1 "
                                 "AND deleted_at IS NULL", case["id"]) == 0

        # The person and her last case deleted together on a tablet: the case goes first, so
        # the person has no live case left when her turn comes.
        person = await register(worker, name="丙")
        last = await open_case(worker, person["id"])
        cursor, _, _ = await pull(cases_client, service_headers, db)
        await push(cases_client, service_headers, {"beneficiaries": {"deleted": [person["id"]]},
                                                   "cases": {"deleted": [last["id"]]}}, since=cursor)
        for path in (f"/v1/beneficiaries/{person['id']}", f"/v1/cases/{last['id']}"):
            assert (await cases_client.get(path, headers=worker)).status_code == 404

    async def test_check_only_writes_nothing(self, cases_client, service_headers, db, worker, today):
        b = tablet_beneficiary()
        c = tablet_case(b["id"], today)
        changes = {"beneficiaries": {"created": [b]}, "cases": {"created": [c]}}
        answer = await push(cases_client, service_headers, changes, check_only=True, expect=200)
        # It tells what other services may rely on: the new person, for attendance in the same push,
        # with the number they were given (a held part commits it as given: shared/prepared.py).
        number = answer["provides"]["beneficiaries"][0].get("person_no")
        assert isinstance(number, int)
        assert answer == {"provides": {"beneficiaries": [{"id": b["id"], "station_id": 2,
                                                          "populations": ["elderly"], "person_no": number}]}}
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.daily_stat WHERE value <> 0") == 0
        # ...but runs the rules.
        bad = {"beneficiaries": {"created": [{**b, "gender": "robot"}]}}
        problem = await push(cases_client, service_headers, bad, check_only=True, expect=422)
        assert problem["errors"][0]["field"] == f"changes.beneficiaries.{b['id']}.gender"

    async def test_unknown_columns_and_bookkeeping_are_ignored(self, cases_client, service_headers, worker):
        b = tablet_beneficiary(colour="blue", _status="created", _changed="name,colour", id_number_masked="x",
                               registered_on="2000-01-01")
        await push(cases_client, service_headers, {"beneficiaries": {"created": [b]}})
        got = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert got["name"] == "王五" and got["registered_on"] != "2000-01-01"

    async def test_outside_the_device_subtree_is_403_naming_the_record(self, cases_client, service_headers, worker,
                                                                       sibling, open_case, today):
        for station in (3, 999):
            b = tablet_beneficiary(station_id=station)
            problem = await push(cases_client, service_headers, {"beneficiaries": {"created": [b]}}, expect=403)
            assert problem["type"].endswith("sync-out-of-scope")
            assert problem["records"] == [{"table": "beneficiaries", "id": b["id"]}]
        # The village room under the device's station is inside.
        inside = tablet_beneficiary(station_id=4)
        await push(cases_client, service_headers, {"beneficiaries": {"created": [inside]}})
        assert (await cases_client.get(f"/v1/beneficiaries/{inside['id']}", headers=worker)).json()["station_id"] == 4

        # A record under a case of the sibling station.
        theirs = await open_case(sibling)
        s = tablet_service_record(theirs["id"], today)
        problem = await push(cases_client, service_headers, {"service_records": {"created": [s]}}, expect=403)
        assert problem["records"] == [{"table": "service_records", "id": s["id"]}]
        assert (await cases_client.get(f"/v1/cases/{theirs['id']}/service-records",
                                       headers=sibling)).json()["items"] == []

    async def test_bad_values_are_422_naming_the_field(self, cases_client, service_headers, worker, open_case,
                                                       register, today):
        case = await open_case(worker)
        cases = [
            ("service_records", tablet_service_record(case["id"], today, mode="teleport"), "mode"),
            ("service_records", tablet_service_record(case["id"], today, served_on="2999-01-01"), "served_on"),
            ("service_records", tablet_service_record(case["id"], today, resources_yuan=-1), "resources_yuan"),
            ("beneficiaries", tablet_beneficiary(id_number="123"), "id_number"),
            ("beneficiaries", tablet_beneficiary(populations="elderly"), "populations"),
            ("beneficiaries", tablet_beneficiary(populations='["martians"]'), "populations"),
            ("cases", tablet_case("no-such-beneficiary", today), "beneficiary_id"),
        ]
        for table, row, field in cases:
            problem = await push(cases_client, service_headers, {table: {"created": [row]}}, expect=422)
            assert problem["errors"][0]["field"] == f"changes.{table}.{row['id']}.{field}", problem

        # The ID number rule: once per province, the refusal naming the record and the existing one.
        first = await register(worker, id_number=ID_BORN_1980)
        dup = tablet_beneficiary(id_number=ID_BORN_1980)
        problem = await push(cases_client, service_headers, {"beneficiaries": {"created": [dup]}}, expect=409)
        assert problem["existing_id"] == first["id"]
        assert problem["records"] == [{"table": "beneficiaries", "id": dup["id"]}]
        assert problem["errors"][0]["field"] == f"changes.beneficiaries.{dup['id']}.id_number"


class TestProjectOfAPushedCase:
    """A tablet's case joins only a project covering the device's station, checked with the projects
    service as the device (the gateway sends its access token beside the service token)."""

    async def _push(self, client, service_headers, device_token, changes, expect):
        headers = {**service_headers, **({DEVICE_TOKEN_HEADER: device_token} if device_token else {})}
        body = {"station_id": 2, "station_path": "/1/2/", "device_id": "tab-1", "since": None,
                "changes": {t: {"created": rows, "updated": [], "deleted": []} for t, rows in changes.items()}}
        r = await client.post("/internal/sync/push", json=body, headers=headers)
        assert r.status_code == expect, r.text
        return r.json() if r.content else None

    async def test_a_sibling_stations_project_is_refused_naming_the_field(self, cases_client, service_headers,
                                                                          signer, make_project, worker, register,
                                                                          db, today):
        ours, theirs = await make_project("p-ours"), await make_project("p-theirs", 3, "/1/3/")
        device = signer.access_token(Principal(user_id="device:tab-1", role=Role.social_worker, station_id=2,
                                               station_path="/1/2/", device_id="tab-1"))
        b = await register(worker)
        case = tablet_case(b["id"], today, project_id=theirs["id"])
        r = await self._push(cases_client, service_headers, device, {"cases": [case]}, 422)
        assert [e["field"] for e in r["errors"]] == [f"changes.cases.{case['id']}.project_id"]
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0
        # Without the device's token a push naming a project is not written unchecked.
        case = tablet_case(b["id"], today, project_id=ours["id"])
        r = await self._push(cases_client, service_headers, None, {"cases": [case]}, 401)
        assert r["type"].endswith("device-token-required")
        await self._push(cases_client, service_headers, device, {"cases": [case]}, 204)
        assert await db.fetchval('SELECT project_id FROM cases."case"') == ours["id"]
        # Moving it to the sibling's project after a pull is refused as well.
        cursor, _, _ = await pull(cases_client, service_headers, db)
        moved = {**case, "project_id": theirs["id"]}
        body = {"station_id": 2, "station_path": "/1/2/", "device_id": "tab-1", "since": cursor,
                "changes": {"cases": {"created": [], "updated": [moved], "deleted": []}}}
        r = await cases_client.post("/internal/sync/push", json=body,
                                    headers={**service_headers, DEVICE_TOKEN_HEADER: device})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [f"changes.cases.{case['id']}.project_id"]
        assert await db.fetchval('SELECT project_id FROM cases."case"') == ours["id"]
