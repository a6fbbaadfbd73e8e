"""Attendance of sessions and activities: one attendee at a time or the whole list, idempotent,
checked with the casework service, populations as they were at attendance time."""

import httpx
import pytest

from tests.fixtures.calls import with_etag
from tests.projects.conftest import stats


@pytest.fixture
async def occasion(projects, make_project, make_group, make_session, worker):
    project = await make_project()
    group = await make_group(worker, project["id"])
    session = await make_session(worker, group["id"], anonymous_count=1)
    return f"/v1/groups/{group['id']}/sessions/{session['id']}"


class TestAddAttendee:
    async def test_once_per_person_and_counted(self, projects, occasion, register, worker, cases_client,
                                               service_headers, db):
        person = await register(worker, populations=["disabled"])
        r = await projects.post(f"{occasion}/attendance", json={"beneficiary_id": person}, headers=worker)
        assert r.status_code == 201 and r.json()["populations"] == ["disabled"], r.text
        first = r.json()
        # The person's populations change in casework; what was recorded stays.
        await cases_client.patch(f"/v1/beneficiaries/{person}", json={"populations": ["elderly"]},
                                 headers=with_etag(worker, '"1"'))
        again = await projects.post(f"{occasion}/attendance", json={"beneficiary_id": person}, headers=worker)
        assert again.status_code == 200 and again.json() == first
        listed = (await projects.get(f"{occasion}/attendance", headers=worker)).json()
        assert (listed["named_count"], listed["anonymous_count"], listed["person_times"]) == (1, 1, 2)
        got = await stats(projects, service_headers, metrics=["person_times.group"], group_by=["population"])
        assert got == {("person_times.group", "_all", None, None): 2, ("person_times.group", "disabled", None, None): 1}
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 1

    async def test_unknown_attendee(self, projects, occasion, register, sibling, worker, official, db):
        theirs = await register(sibling)
        r = await projects.post(f"{occasion}/attendance", json={"beneficiary_id": theirs}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "beneficiary_id"
        assert r.headers["content-type"] == "application/problem+json"
        r = await projects.post(f"{occasion}/attendance", json={"beneficiary_id": theirs}, headers=official)
        assert r.status_code == 404
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0


class TestReplaceAttendance:
    async def test_whole_list_and_headcount(self, projects, occasion, register, worker, service_headers, db):
        a, b, c = [await register(worker, populations=[p]) for p in ("elderly", "children", "disabled")]
        r = await projects.put(f"{occasion}/attendance", headers=worker, json={
            "attendees": [{"beneficiary_id": a}, {"beneficiary_id": b}, {"beneficiary_id": a}], "anonymous_count": 4})
        assert r.status_code == 200, r.text
        assert r.json()["person_times"] == 6 and {i["beneficiary_id"] for i in r.json()["items"]} == {a, b}
        etag = r.headers["etag"]
        r = await projects.put(f"{occasion}/attendance", headers=with_etag(worker, etag),
                               json={"attendees": [{"beneficiary_id": b}, {"beneficiary_id": c}]})
        assert r.status_code == 200 and r.json()["person_times"] == 6
        got = await stats(projects, service_headers, metrics=["person_times.group"], group_by=["population"])
        assert got == {("person_times.group", "_all", None, None): 6, ("person_times.group", "children", None, None): 1,
                       ("person_times.group", "disabled", None, None): 1}
        r = await projects.put(f"{occasion}/attendance", headers=with_etag(worker, etag), json={"attendees": []})
        assert r.status_code == 412
        r = await projects.get(occasion, headers=worker)
        assert r.json()["named_count"] == 2 and r.json()["person_times"] == 6

    async def test_one_unknown_attendee_fails_the_whole_list(self, projects, occasion, register, worker, sibling, db):
        mine, theirs = await register(worker), await register(sibling)
        r = await projects.put(f"{occasion}/attendance", headers=worker, json={
            "attendees": [{"beneficiary_id": mine}, {"beneficiary_id": theirs}], "anonymous_count": 9})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["attendees[1].beneficiary_id"]
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0
        assert await db.fetchval("SELECT anonymous_count FROM projects.group_session") == 1


class TestRemoveAttendee:
    async def test_taken_back(self, projects, occasion, register, worker, service_headers):
        person = await register(worker)
        await projects.post(f"{occasion}/attendance", json={"beneficiary_id": person}, headers=worker)
        assert (await projects.delete(f"{occasion}/attendance/{person}", headers=worker)).status_code == 204
        assert (await projects.delete(f"{occasion}/attendance/{person}", headers=worker)).status_code == 404
        got = await stats(projects, service_headers, metrics=["person_times.group"], group_by=["population"])
        assert got == {("person_times.group", "_all", None, None): 1}


class TestLookupFailure:
    async def test_casework_unreachable_answers_502_and_writes_nothing(self, cases_app, occasion, register, worker,
                                                                       db):
        from services.projects.app import create_app

        def refuse(request):
            raise httpx.ConnectError("refused", request=request)

        app = create_app(transports={"gateway": httpx.MockTransport(refuse)})
        person = await register(worker)
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client):
            r = await client.post(f"{occasion}/attendance", json={"beneficiary_id": person}, headers=worker)
        assert r.status_code == 502 and r.json()["service"] == "cases"
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0
