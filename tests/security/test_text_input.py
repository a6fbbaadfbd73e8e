"""Text that hides what it says: control characters (a terminal's BEL and ESC, a log line's forged
line end) and bidirectional overrides (text that reads differently from how it is stored) are
refused in every text field of every process, with a 422 naming the field; Windows line ends
are kept as plain newlines."""

import pytest

from tests.cases.test_sync import push, tablet_beneficiary
from tests.fixtures.people import ID_BORN_1980

UNSAFE = {"BEL": "\x07", "ESC": "\x1b", "vertical tab": "\x0b", "DEL": "\x7f", "C1 CSI": "\x9b",
          "RLO": "\u202e", "LRE": "\u202a", "FSI": "\u2068", "PDI": "\u2069"}


def fields_of(r) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


@pytest.mark.parametrize("char", UNSAFE.values(), ids=UNSAFE.keys())
async def test_a_beneficiary_name_with_a_hidden_character_is_refused(cases_client, stations, worker, db, char):
    r = await cases_client.post("/v1/beneficiaries", headers=worker, json={"name": f"张{char}三"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert fields_of(r) == ["name"]
    assert f"U+{ord(char):04X}" in r.text
    assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0


async def test_nested_and_listed_text_is_checked_too(cases_client, stations, worker, db):
    r = await cases_client.post("/v1/beneficiaries", headers=worker, json={
        "name": "张三", "emergency_contact": {"name": "张\u202e小", "relation": "son", "phone": "13900001111"}})
    assert r.status_code == 422 and fields_of(r) == ["emergency_contact.name"], r.text
    r = await cases_client.post("/v1/beneficiaries", headers=worker,
                                json={"name": "张三", "populations": ["elderly\x1b[31m"]})
    assert r.status_code == 422 and fields_of(r) == ["populations"], r.text
    assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0


async def test_tabs_and_line_ends_are_kept_windows_line_ends_as_newlines(cases_client, stations, worker, db):
    r = await cases_client.post("/v1/beneficiaries", headers=worker, json={
        "name": "张三", "id_number": ID_BORN_1980, "address": "成华区\t建设路\r\n88号\r3栋"})
    assert r.status_code == 201, r.text
    r = await cases_client.get(f"/v1/beneficiaries/{r.json()['id']}", headers=worker)
    assert r.json()["address"] == "成华区\t建设路\n88号\n3栋"


async def test_every_process_refuses_them(gateway, admin_headers, root, projects_client, volunteers_client, stations,
                                          token_for, db):
    r = await gateway.post("/v1/stations", headers=admin_headers,
                           json={"parent_id": root["id"], "kind": "city", "name": "成都\u202e市"})
    assert r.status_code == 422 and fields_of(r) == ["name"], r.text
    head = token_for("station_head", 2, "/1/2/", user_id="h2")
    r = await projects_client.post("/v1/projects", headers=head, json={
        "name": "项目", "purchaser": "民政局\x07", "operator": "好邻", "starts_on": "2026-01-01",
        "ends_on": "2026-12-31"})
    assert r.status_code == 422 and fields_of(r) == ["purchaser"], r.text
    r = await volunteers_client.post("/v1/teams", headers=head, json={"name": "助老\u2066服务队"})
    assert r.status_code == 422 and fields_of(r) == ["name"], r.text
    assert await db.fetchval("SELECT count(*) FROM projects.project") == 0
    assert await db.fetchval("SELECT count(*) FROM volunteers.team") == 0


async def test_a_tablet_push_is_checked_naming_the_record(cases_client, stations, service_headers, db):
    bad = tablet_beneficiary(name="王\u202e五")
    r = await push(cases_client, service_headers, {"beneficiaries": {"created": [bad]}}, expect=422)
    assert [e["field"] for e in r["errors"]] == [f"changes.beneficiaries.{bad['id']}.name"]
    assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
    windows = tablet_beneficiary(address="建设路\r\n88号")
    await push(cases_client, service_headers, {"beneficiaries": {"created": [windows]}})
    assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1


async def test_a_roster_row_with_one_names_the_row_and_column(volunteers_client, stations, worker):
    roster = "姓名,证件号码\n张\x1b三,11010519491231002X\n".encode()
    r = await volunteers_client.post("/v1/volunteers/import", headers=worker, params={"dry_run": "true"},
                                     files={"file": ("roster.csv", roster, "text/csv")})
    assert r.status_code == 200, r.text
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(2, "name")]
