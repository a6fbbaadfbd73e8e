"""Sensitive fields at rest: sealed, shown by role, and readable across a key rotation."""

import re
from dataclasses import replace

import httpx
import pytest

from ops import rotate_keys
from services.cases.models import Base as CasesBase
from shared import clock, crypto
from shared.crypto import FieldCipher, generate_key
from shared.db import asyncpg_dsn
from tests.fixtures.people import id_number

CHILD_ID = id_number("51010420150310345")
ADDRESS = "和平社区7栋哨兵单元"
PROBLEM = "父亲酗酒，孩子有哮喘 SENTINEL-PROBLEM"
NEEDS = "需要心理疏导 SENTINEL-NEEDS"
CONTENT = "入户探访，孩子咳嗽 SENTINEL-CONTENT"
SESSION_NOTES = "组员小明情绪低落 SENTINEL-SESSION"
CIPHERTEXT = re.compile(r"^[A-Za-z0-9_-]+:[A-Za-z0-9_=-]+$")


async def casework(cases_client, worker, today) -> dict:
    """A child with a disability, a case, an assessment and a home visit, through the API."""
    r = await cases_client.post("/v1/beneficiaries", headers=worker, json={
        "name": "小明", "id_number": CHILD_ID, "phone": "13812345678", "address": ADDRESS,
        "self_care": "partial", "disability_type": "physical", "disability_grade": 2, "populations": ["children"]})
    assert r.status_code == 201, r.text
    ben = r.json()
    r = await cases_client.post("/v1/cases", headers=worker, json={
        "beneficiary_id": ben["id"], "title": "困境儿童", "presenting_problem": PROBLEM})
    assert r.status_code == 201, r.text
    case = r.json()
    r = await cases_client.post(f"/v1/cases/{case['id']}/assessments", headers=worker,
                                json={"assessed_on": today.isoformat(), "needs": NEEDS})
    assert r.status_code == 201, r.text
    assessment = r.json()
    r = await cases_client.post(f"/v1/cases/{case['id']}/service-records", headers=worker, json={
        "served_on": today.isoformat(), "mode": "home_visit", "content": CONTENT, "service_type": "elder_child_care"})
    assert r.status_code == 201, r.text
    return {"beneficiary": ben, "case": case, "assessment": assessment, "service_record": r.json()}


@pytest.fixture
def today():
    return clock.today()


class TestSealedAtRest:
    async def test_nothing_sensitive_is_stored_in_the_clear(self, cases_client, stations, worker, today, db):
        made = await casework(cases_client, worker, today)
        stored = {
            "beneficiary": await db.fetchrow("SELECT * FROM cases.beneficiary WHERE id = $1",
                                             made["beneficiary"]["id"]),
            "case": await db.fetchrow('SELECT * FROM cases."case" WHERE id = $1', made["case"]["id"]),
            "assessment": await db.fetchrow("SELECT * FROM cases.assessment WHERE id = $1",
                                            made["assessment"]["id"]),
            "service_record": await db.fetchrow("SELECT * FROM cases.service_record WHERE id = $1",
                                                made["service_record"]["id"]),
        }
        whole = " ".join(str(dict(row)) for row in stored.values())
        for secret in (CHILD_ID, "13812345678", ADDRESS, "SENTINEL-PROBLEM", "SENTINEL-NEEDS", "SENTINEL-CONTENT",
                       "physical", "partial"):
            assert secret not in whole
        b = stored["beneficiary"]
        for column in ("address", "self_care", "disability_type", "disability_grade", "id_number_enc", "phone_enc"):
            assert CIPHERTEXT.match(b[column]) and b[column].startswith("k1:"), column
        assert stored["case"]["presenting_problem"].startswith("k1:")
        assert stored["assessment"]["needs"].startswith("k1:")
        assert stored["service_record"]["content"].startswith("k1:")

    async def test_a_worker_reads_them_back(self, cases_client, stations, worker, today):
        made = await casework(cases_client, worker, today)
        ben = (await cases_client.get(f"/v1/beneficiaries/{made['beneficiary']['id']}", headers=worker)).json()
        assert (ben["id_number"], ben["address"], ben["self_care"], ben["disability_type"], ben["disability_grade"]) \
            == (CHILD_ID, ADDRESS, "partial", "physical", 2)
        case_id = made["case"]["id"]
        assert (await cases_client.get(f"/v1/cases/{case_id}", headers=worker)).json()["presenting_problem"] == PROBLEM
        got = (await cases_client.get(f"/v1/cases/{case_id}/assessments/{made['assessment']['id']}",
                                      headers=worker)).json()
        assert got["needs"] == NEEDS
        listed = (await cases_client.get(f"/v1/cases/{case_id}/service-records", headers=worker)).json()
        assert [r["content"] for r in listed["items"]] == [CONTENT]

    async def test_session_notes_are_sealed(self, projects_client, cases_client, stations, worker, token_for, today,
                                            db):
        head = token_for("station_head", 2, "/1/2/", user_id="h2")
        r = await projects_client.post("/v1/projects", headers=head, json={
            "name": "儿童成长", "purchaser": "民政局", "operator": "社工机构",
            "starts_on": today.replace(month=1, day=1).isoformat(),
            "ends_on": today.replace(month=12, day=31).isoformat()})
        assert r.status_code == 201, r.text
        r = await projects_client.post("/v1/groups", headers=worker, json={
            "project_id": r.json()["id"], "title": "情绪小组", "starts_on": today.isoformat()})
        assert r.status_code == 201, r.text
        group = r.json()
        r = await projects_client.post(f"/v1/groups/{group['id']}/sessions", headers=worker, json={
            "held_on": today.isoformat(), "notes": SESSION_NOTES, "anonymous_count": 3})
        assert r.status_code == 201, r.text
        stored = await db.fetchval("SELECT notes FROM projects.group_session WHERE id = $1", r.json()["id"])
        assert stored.startswith("k1:") and "SENTINEL" not in stored
        got = await projects_client.get(f"/v1/groups/{group['id']}/sessions/{r.json()['id']}", headers=worker)
        assert got.json()["notes"] == SESSION_NOTES


class TestShownByRole:
    async def test_supervisor_sees_health_admin_does_not_official_sees_nothing(
            self, cases_client, stations, worker, supervisor, admin_token, official, today):
        made = await casework(cases_client, worker, today)
        ben_url = f"/v1/beneficiaries/{made['beneficiary']['id']}"
        case_url = f"/v1/cases/{made['case']['id']}"
        sup = (await cases_client.get(ben_url, headers=supervisor)).json()
        assert (sup["disability_type"], sup["address"]) == ("physical", ADDRESS)
        assert sup["id_number"] != CHILD_ID and sup["id_number"].endswith(CHILD_ID[-4:])  # masked
        adm = (await cases_client.get(ben_url, headers=admin_token)).json()
        assert (adm["address"], adm["self_care"], adm["disability_type"], adm["disability_grade"]) == (None,) * 4
        assert adm["name"] == "小明" and adm["id_number"] != CHILD_ID
        assert (await cases_client.get(case_url, headers=admin_token)).json()["presenting_problem"] is None
        listed = (await cases_client.get(f"{case_url}/service-records", headers=admin_token)).json()["items"]
        assert [r["content"] for r in listed] == [None]
        assert (await cases_client.get(f"{case_url}/service-records", headers=supervisor)).json()["items"][0][
            "content"] == CONTENT
        for url in (ben_url, case_url, f"{case_url}/assessments/{made['assessment']['id']}"):
            r = await cases_client.get(url, headers=official)
            assert r.status_code == 404 and "SENTINEL" not in r.text


class TestKeyRotation:
    @pytest.fixture
    def keys(self, cases_app):
        """Swap the process's keys (the sealed columns' and the cases vault's); put them back after."""
        import os

        original_spec = os.environ["FIELD_ENCRYPTION_KEYS"]
        original_vault = cases_app.state.vault

        def use(spec: str) -> FieldCipher:
            cipher = FieldCipher(spec)
            crypto.bind(CasesBase.metadata, cipher)
            cases_app.state.vault = replace(original_vault, cipher=cipher)
            return cipher

        yield original_spec, use
        use(original_spec)
        cases_app.state.vault = original_vault

    async def _everything_reads(self, cases_client, worker, made):
        ben = (await cases_client.get(f"/v1/beneficiaries/{made['beneficiary']['id']}", headers=worker)).json()
        assert (ben["id_number"], ben["phone"], ben["address"], ben["disability_grade"]) == \
            (CHILD_ID, "13812345678", ADDRESS, 2)
        case = (await cases_client.get(f"/v1/cases/{made['case']['id']}", headers=worker)).json()
        assert case["presenting_problem"] == PROBLEM

    async def _kids(self, db) -> set[str]:
        rows = await db.fetch("""
            SELECT split_part(v, ':', 1) AS kid FROM (
                SELECT unnest(ARRAY[address, self_care, disability_type, disability_grade, id_number_enc, phone_enc])
                FROM cases.beneficiary
                UNION ALL SELECT presenting_problem FROM cases."case"
                UNION ALL SELECT needs FROM cases.assessment
                UNION ALL SELECT content FROM cases.service_record) AS t(v) WHERE v IS NOT NULL""")
        return {r["kid"] for r in rows}

    async def test_rows_under_the_old_key_survive_rotation_and_its_removal(self, cases_client, stations, worker,
                                                                          today, db, database_url, keys):
        original, use = keys
        made = await casework(cases_client, worker, today)  # under k1 (key A)
        assert await self._kids(db) == {"k1"}

        # Key B added first: old rows still read, new writes use B.
        key_b = f"k2:{generate_key()}"
        both = use(f"{key_b},{original}")
        await self._everything_reads(cases_client, worker, made)
        r = await cases_client.post(f"/v1/cases/{made['case']['id']}/service-records", headers=worker, json={
            "served_on": today.isoformat(), "mode": "phone", "content": "电话随访", "service_type": "elder_child_care"})
        assert r.status_code == 201
        assert (await db.fetchval("SELECT content FROM cases.service_record WHERE id = $1", r.json()["id"])
                ).startswith("k2:")
        assert await self._kids(db) == {"k1", "k2"}

        # Rotation: every value under B, in batches smaller than the rows there are.
        dsn = asyncpg_dsn(database_url)
        assert sum((await rotate_keys.rotate(dsn, "cases", both, check_only=True)).values()) > 0
        rewritten = await rotate_keys.rotate(dsn, "cases", both, batch=1)
        assert rewritten["cases.beneficiary.id_number_enc"] == 1 and rewritten["cases.case.presenting_problem"] == 1
        assert await self._kids(db) == {"k2"}
        assert sum((await rotate_keys.rotate(dsn, "cases", both, check_only=True)).values()) == 0
        assert sum((await rotate_keys.rotate(dsn, "cases", both)).values()) == 0  # a second run has nothing to do

        # Key A removed: everything still reads.
        assert use(key_b).kids == ("k2",)
        await self._everything_reads(cases_client, worker, made)

    async def test_a_value_under_an_unknown_key_fails_without_leaking(self, cases_app, cases_client, stations,
                                                                     worker, today, keys):
        _, use = keys
        made = await casework(cases_client, worker, today)
        use(f"k9:{generate_key()}")  # k1 dropped without a rotation
        # A client that sees the 500 as a client would (the default test transport re-raises it).
        transport = httpx.ASGITransport(app=cases_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get(f"/v1/cases/{made['case']['id']}", headers=worker)
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert "SENTINEL" not in r.text and "k1" not in r.text

