"""A person's identifiers (ID number, phone, emergency contact) masked by one rule per field on every
read path: one record, a list, a tablet's pull, certificates. In full only to a station head or a
social worker reading one record, and to a volunteer reading their own (docs/security.md)."""

import json

import pytest

from tests.fixtures.people import id_number

ID = id_number("51010419500301123")
PHONE, CONTACT_PHONE = "13712345678", "13687654321"
FULL = {"id_number": ID, "phone": PHONE,
        "emergency_contact": {"name": "王小明", "relation": "儿子", "phone": CONTACT_PHONE}}
MASKED = {"id_number": "5101**********" + ID[-4:], "phone": "137****5678",
          "emergency_contact": {"name": "王**", "relation": "**", "phone": "136****4321"}}
STAFF = ("admin", "station_head", "social_worker", "supervisor")
IN_FULL = {"station_head", "social_worker"}


@pytest.fixture
def callers(token_for) -> dict[str, dict]:
    return {role: token_for(role, *((1, "/1/") if role == "admin" else (2, "/1/2/")), user_id=f"{role}-2")
            for role in STAFF}


def shown(read: dict) -> dict:
    return {k: read[k] for k in FULL}


async def test_a_beneficiary_per_role_and_read_path(cases_client, stations, callers, service_headers):
    r = await cases_client.post("/v1/beneficiaries", headers=callers["social_worker"],
                                json={"name": "王大爷", **FULL, "populations": ["elderly"]})
    assert r.status_code == 201, r.text
    assert shown(r.json()) == MASKED  # a create answers as a list does
    url = f"/v1/beneficiaries/{r.json()['id']}"
    for role, headers in callers.items():
        one = (await cases_client.get(url, headers=headers)).json()
        assert shown(one) == (FULL if role in IN_FULL else MASKED), role
        listed = (await cases_client.get("/v1/beneficiaries", headers=headers)).json()["items"]
        assert [shown(b) for b in listed] == [MASKED], role
    r = await cases_client.post("/internal/sync/pull", headers=service_headers,
                                json={"station_path": "/1/2/", "since": None, "tables": ["beneficiaries"]})
    row = next(json.loads(line)["row"] for line in r.text.splitlines()[1:])
    assert (row["id_number_masked"], row["phone_masked"], json.loads(row["emergency_contact_masked"])) == (
        MASKED["id_number"], MASKED["phone"], MASKED["emergency_contact"])


async def test_a_volunteer_and_their_certificates_per_role(volunteers_client, stations, callers):
    worker = callers["social_worker"]
    r = await volunteers_client.post("/v1/volunteers", headers=worker,
                                     json={"name": "张志愿", "id_number": ID, "phone": PHONE})
    assert r.status_code == 201, r.text
    volunteer = r.json()
    r = await volunteers_client.post("/v1/volunteer-hours", headers=worker, json={
        "volunteer_id": volunteer["id"], "served_on": "2026-01-05", "hours": "2", "content": "助老送餐"})
    await volunteers_client.post(f"/v1/volunteer-hours/{r.json()['id']}/confirm", headers=worker)
    r = await volunteers_client.post("/v1/certificates", headers=worker,
                                     json={"volunteer_id": volunteer["id"], "from": "2026-01-01", "to": "2026-01-31"})
    assert r.status_code == 201, r.text
    certificate = r.json()
    masked_id = MASKED["id_number"]
    for role, headers in callers.items():
        one = (await volunteers_client.get(f"/v1/volunteers/{volunteer['id']}", headers=headers)).json()
        assert (one["id_number"], one["phone"]) == ((ID, PHONE) if role in IN_FULL else (masked_id, "137****5678"))
        listed = (await volunteers_client.get("/v1/volunteers", headers=headers)).json()["items"]
        assert [(v["id_number"], v["phone"]) for v in listed] == [(masked_id, "137****5678")], role
        cert = (await volunteers_client.get(f"/v1/certificates/{certificate['id']}", headers=headers)).json()
        assert cert["id_number"] == (ID if role in IN_FULL else masked_id), role
        listed = (await volunteers_client.get("/v1/certificates", headers=headers)).json()["items"]
        assert [c["id_number"] for c in listed] == [masked_id], role
