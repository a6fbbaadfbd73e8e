"""Nothing sensitive in logs or error bodies: creates, updates and failures driven through the
gateway with recognisable values, then every log record and every error answer searched for them."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid

import httpx
import pytest

from shared import clock
from shared.observability import JsonFormatter
# The platform as real processes (uvicorn each, as `make run` starts them), with their output in files.
from tests.fixtures.gateway import users
from tests.fixtures.people import id_number
from tests.reliability.conftest import live, platform  # noqa: F401

NAME = "哨兵甲乙"
ID_NUMBER = id_number("51010419800101987")
PHONE = "13987650123"
ADDRESS = "哨兵路99号"
NOTE = "SENTINEL-HEALTH-NOTE 哮喘"
SENTINELS = (NAME, ID_NUMBER, PHONE, PHONE[-4:] + PHONE[:3], ADDRESS, "SENTINEL", "哮喘")


@pytest.fixture
def captured(caplog):
    # Everything every logger says, at the most talkative level; httpx as production sets it
    # (shared.observability.configure_logging).
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return caplog


def log_text(caplog) -> str:
    formatter = JsonFormatter()
    return "\n".join(f"{formatter.format(r)} {r.args!r} {getattr(r, 'fields', '')}" for r in caplog.records)


class TestNothingSensitiveLeaks:
    async def test_writes_and_failures(self, gateway, admin_headers, gateway_tree, captured, cases_client,
                                       projects_client, volunteers_client):
        staff = await users(gateway, admin_headers, gateway_tree, ("leak.worker", "social_worker", "mengzhuiwan"))
        worker = staff["leak.worker"]
        today = clock.today()
        errors = []

        async def expect(status: int, method: str, url: str, **kw):
            r = await gateway.request(method, url, headers={**worker, **kw.pop("headers", {})}, **kw)
            assert r.status_code == status, (url, r.status_code, r.text)
            if status >= 400:
                assert r.headers["content-type"] == "application/problem+json"
                errors.append(r.text)
            return r

        body = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "address": ADDRESS, "self_care": "partial",
                "emergency_contact": {"name": NAME, "phone": PHONE}, "populations": ["elderly"]}
        ben = (await expect(201, "POST", "/v1/beneficiaries", json=body)).json()
        # The same person again: a conflict that names the record, not the number.
        await expect(409, "POST", "/v1/beneficiaries", json=body)
        # Malformed values, each with the sentinel in it.
        await expect(422, "POST", "/v1/beneficiaries", json={**body, "id_number": ID_NUMBER[:-1] + "0"})
        await expect(422, "POST", "/v1/beneficiaries", json={**body, "id_number": None, "phone": PHONE + "99"})
        await expect(422, "POST", "/v1/beneficiaries", json={**body, "id_number": None, "name": NAME * 30})
        await expect(422, "POST", "/v1/beneficiaries", json={**body, "id_number": None, "self_care": NOTE})
        await expect(400, "POST", "/v1/beneficiaries", content=f'{{"name": "{NAME}", '.encode(),
                     headers={"content-type": "application/json"})
        r = await expect(200, "GET", f"/v1/beneficiaries/{ben['id']}")
        await expect(200, "PATCH", f"/v1/beneficiaries/{ben['id']}", json={"address": ADDRESS + "2"},
                     headers={"If-Match": r.headers["etag"]})
        await expect(412, "PATCH", f"/v1/beneficiaries/{ben['id']}", json={"address": ADDRESS},
                     headers={"If-Match": r.headers["etag"]})
        # Searches carry names and phone digits in the query string.
        await expect(200, "GET", "/v1/beneficiaries", params={"q": NAME, "phone_tail": PHONE[-4:]})
        await expect(422, "GET", "/v1/beneficiaries", params={"phone_tail": PHONE})

        case = (await expect(201, "POST", "/v1/cases", json={"beneficiary_id": ben["id"], "title": "照护",
                                                                "presenting_problem": NOTE})).json()
        await expect(201, "POST", f"/v1/cases/{case['id']}/assessments",
                     json={"assessed_on": today.isoformat(), "needs": NOTE, "notes": NOTE})
        await expect(422, "POST", f"/v1/cases/{case['id']}/assessments",
                     json={"assessed_on": "2999-01-01", "needs": NOTE})
        await expect(404, "POST", "/v1/cases/nope/service-records", json={
            "served_on": today.isoformat(), "mode": "home_visit", "content": NOTE, "service_type": "elder_child_care"})
        await expect(409, "DELETE", f"/v1/beneficiaries/{ben['id']}",
                     headers={"If-Match": (await expect(200, "GET", f"/v1/beneficiaries/{ben['id']}")).headers["etag"]})

        assert len(errors) == 11
        for text in errors:
            for secret in SENTINELS:
                assert secret not in text, (secret, text)
        logged = log_text(captured)
        assert "request" in logged  # the access log was captured: the search below is not empty-handed
        for secret in SENTINELS:
            assert secret not in logged, secret
        # Nor in any process's metrics, which count those same requests by route template.
        for client in (gateway, cases_client, projects_client, volunteers_client):
            r = await client.get("/metrics")
            assert r.status_code == 200 and "haolin_http_requests_total" in r.text
            for secret in SENTINELS:
                assert secret not in r.text, secret


@pytest.mark.slow
class TestNothingInAnyProcessOutput:
    """A database error that escapes as a 500, in the real processes (uvicorn, as `make run` starts
    them): no process's output (their own log lines, uvicorn's, anything on stderr) holds the row's
    values. A trigger that fails the insert stands in for any unexpected database error."""

    async def test_a_database_error_with_personal_values_leaves_only_its_type(self, live, db):
        name, address = "哨兵丙丁戊", "哨兵街7号SENTINEL"
        secrets = (name, "shaobing", "sbbdw", address, "SENTINEL", "13987650124", "0124")
        await db.execute("CREATE FUNCTION cases.zz_probe() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN RAISE EXCEPTION 'the probe refuses this row'; END $$")
        await db.execute("CREATE TRIGGER zz_probe BEFORE INSERT ON cases.beneficiary FOR EACH ROW "
                         "EXECUTE FUNCTION cases.zz_probe()")
        try:
            async with httpx.AsyncClient(base_url=live.gateway_url, timeout=30) as client:
                r = await client.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
                assert r.status_code == 200, r.text
                client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
                person = {"name": name, "address": address, "phone": "13987650124", "populations": ["elderly"]}
                r = await client.post("/v1/beneficiaries", json=person)
                assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json", r.text
                # The same row pushed by a tablet: the service's part of the push fails the same way.
                r = await client.post("/v1/devices", json={"station_id": 1, "name": "平板"})
                assert r.status_code == 201, r.text
                tablet = {"Authorization": f"Bearer {r.json()['credential']}"}
                r = await client.get("/v1/sync", params={"last_pulled_at": "null"}, headers=tablet)
                assert r.status_code == 200, r.text
                changes = {"beneficiaries": {"created": [{"id": str(uuid.uuid4()), "name": name, "address": address,
                                                          "populations": '["elderly"]'}]}}
                r = await client.post("/v1/sync", params={"last_pulled_at": r.json()["timestamp"]}, json=changes,
                                      headers=tablet)
                assert r.status_code == 503, r.text
                for secret in secrets:
                    assert secret not in r.text
        finally:
            await db.execute("DROP TRIGGER zz_probe ON cases.beneficiary")
            await db.execute("DROP FUNCTION cases.zz_probe()")
        await asyncio.sleep(0.5)  # the processes' output reaches their log files
        output = {name: live.tail(name, 10**7) for name in live.processes}
        # The failures were logged, so the search below looks at the right lines.
        for path in ("/v1/beneficiaries", "/internal/sync/push"):
            assert f"unhandled error on POST {path}" in output["cases"], output["cases"][-3000:]
        for process, text in output.items():
            for secret in secrets:
                assert secret not in text, (process, secret, text[max(0, text.find(secret) - 1500):][:3000])


class TestEventLoopErrors:
    async def test_an_unawaited_tasks_error_is_logged_by_its_type(self, gateway, captured):
        # Any app's lifespan (here the gateway's) sets how the loop logs what nobody awaited.
        async def fails():
            raise ValueError(f"the row of {NAME}, {PHONE}")

        task = asyncio.ensure_future(fails())
        await asyncio.sleep(0.01)
        del task
        gc.collect()  # the task's finalizer reports its unretrieved exception
        logged = log_text(captured)
        assert "Task exception was never retrieved" in logged and "ValueError" in logged
        for secret in SENTINELS:
            assert secret not in logged, secret
