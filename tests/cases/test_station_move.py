"""A station moving in the tree takes every casework record and rollup row with it."""

import asyncio
import time
from datetime import timedelta

import jwt
from sqlalchemy import event

from services.cases.models import PATH_TABLES
from shared.principals import Principal, Role
from shared.db import open_read_pool
from tests.fixtures.people import id_number
from tests.storage.samples import pdf


class TestStationMove:
    async def test_paths_rewritten_everywhere(self, cases_client, service_headers, worker, token_for, register,
                                              open_case, act, db, today):
        b = await register(worker, station_id=4, populations=["elderly"])
        case = await open_case(worker, b["id"], station_id=4)
        cid = case["id"]
        for kind, body in (("assessments", {"assessed_on": today.isoformat()}),
                           ("plans", {"planned_on": today.isoformat()}),
                           ("service-records", {"served_on": today.isoformat(), "mode": "office", "content": "x",
                                                "service_type": "resource_linking"}),
                           ("referrals", {"agency": "x", "referred_on": today.isoformat()}),
                           ("follow-ups", {"due_on": today.isoformat()})):
            assert (await cases_client.post(f"/v1/cases/{cid}/{kind}", json=body, headers=worker)).status_code == 201
        await act(worker, cid, "assess")
        # Supervision at the room: its own rule, a supervisor assigned, the plan submitted.
        head = token_for("station_head", 2, "/1/2/", user_id="h2")
        r = await cases_client.put("/v1/approval-rules/4", json={"steps": ["plan"]}, headers=head)
        assert r.status_code == 200, r.text
        r = await cases_client.post("/v1/supervisor-assignments", json={"supervisor_id": "sv", "station_id": 4},
                                    headers=head)
        assert r.status_code == 201, r.text
        await act(worker, cid, "plan", expect=202)
        r = await cases_client.post("/v1/supervision-records", headers=head, json={
            "station_id": 4, "held_on": today.isoformat(), "supervisor_id": "sv", "worker_ids": ["w2"],
            "mode": "on_site", "duration_minutes": 60, "topics": ["个案研讨"], "case_ids": [cid]})
        assert r.status_code == 201, r.text
        r = await cases_client.post(f"/v1/cases/{cid}/attachments", content=pdf(), headers=worker,
                                    params={"purpose": "assessment"})
        assert r.status_code == 201, r.text
        r = await cases_client.post(f"/v1/beneficiaries/{b['id']}/visits", headers=worker,
                                    json={"visited_on": today.isoformat(), "mode": "phone"})
        assert r.status_code == 201, r.text
        roster = f"姓名,身份证号,人群类别\n名册人,{id_number('51010419400101123')},tekun\n".encode()
        r = await cases_client.post("/v1/rosters/import", headers=worker, params={"station_id": 4},
                                    files={"file": ("roster.csv", roster, "text/csv")})
        assert r.status_code == 201, r.text
        r = await cases_client.post("/v1/visit-rules", headers=worker, json={
            "station_id": 4, "population": "tekun", "every_days": 14, "modes": ["home_visit"]})
        assert r.status_code == 201, r.text
        untouched = await register(token_for("social_worker", 3, "/1/3/"), name="不动")
        # A person who left the room for the township: a transfer filed at the room, and their departure.
        leaver = await register(worker, station_id=4, name="搬走")
        r = await cases_client.post(f"/v1/beneficiaries/{leaver['id']}/transfer", headers=worker,
                                    json={"to_station_id": 2, "reason": "搬家"})
        assert r.status_code == 201, r.text

        # Station 2 (with its room 4) moves under station 3.
        moved = [{"id": 2, "parent_id": 3, "path": "/1/3/2/", "kind": "township", "name": "S2", "change_seq": 5000},
                 {"id": 4, "parent_id": 2, "path": "/1/3/2/4/", "kind": "village", "name": "S4", "change_seq": 5001}]
        r = await cases_client.put("/internal/stations", json={"stations": moved}, headers=service_headers)
        assert r.status_code == 200, r.text

        for table in PATH_TABLES:
            paths = {row["station_path"] for row in await db.fetch(
                f'SELECT station_path FROM cases."{table.name}" WHERE station_id = 4')}
            assert paths == {"/1/3/2/4/"}, table.name
        assert await db.fetchval("SELECT station_path FROM cases.beneficiary WHERE id = $1",
                                 untouched["id"]) == "/1/3/"
        # The assignment moved with its station: the supervisor still has the room's approval.
        queue = await cases_client.get("/v1/approvals", headers=token_for("supervisor", 10, "/9/10/", user_id="sv"))
        assert [a["case_id"] for a in queue.json()["items"]] == [cid]

        moved_worker = token_for("social_worker", 2, "/1/3/2/", user_id="w2")
        assert (await cases_client.get(f"/v1/cases/{cid}", headers=moved_worker)).status_code == 200
        head3 = token_for("station_head", 3, "/1/3/")
        assert (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=head3)).status_code == 200
        stats = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/3/", "from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(),
            "metrics": ["person_times.casework"], "group_by": ["station"]})
        assert stats.json()["rows"] == [{"metric": "person_times.casework", "population": None, "period": None,
                                         "station": 2, "value": 1.0}]


class TestGetCaseHotPath:
    """Reads by id run one SELECT on the raw read pool and none through SQLAlchemy."""

    @staticmethod
    async def _statements(cases_app, request) -> tuple[list[str], list[str], object]:
        """(statements on the read pool, statements through the engine, the response) of the
        second of two identical requests: the first prepares the statement on the pool's one
        connection (asyncpg looks up the column types then, once per connection)."""
        pooled, orm = [], []

        def count(conn, cursor, statement, *args):
            orm.append(statement)

        db = cases_app.state.db
        # A pool of our own, the app's settings, that logs every statement its connections run.
        pool = await open_read_pool(cases_app.state.settings, "haolin-cases-test",
                                    query_logger=lambda q: pooled.append(q.query))
        engine = db.engine.sync_engine
        shipped, db.read_pool = db.read_pool, pool
        event.listen(engine, "before_cursor_execute", count)
        try:
            await request()
            await asyncio.sleep(0.05)  # loggers are called soon after the statement, not in it
            pooled.clear()
            orm.clear()
            r = await request()
            await asyncio.sleep(0.05)
        finally:
            event.remove(engine, "before_cursor_execute", count)
            db.read_pool = shipped
            await pool.close()
        return pooled, orm, r

    async def test_single_query(self, cases_app, cases_client, worker, open_case):
        case = await open_case(worker)
        pooled, orm, r = await self._statements(
            cases_app, lambda: cases_client.get(f"/v1/cases/{case['id']}", headers=worker))
        assert r.status_code == 200 and r.json()["id"] == case["id"]
        assert orm == []
        # One statement: the read and its audit row (shared.audit.audited_read).
        assert len(pooled) == 1 and pooled[0].lstrip().startswith("WITH found AS (SELECT")

    async def test_single_query_beneficiary_and_record(self, cases_app, cases_client, worker, open_case, today):
        case = await open_case(worker)
        r = await cases_client.post(f"/v1/cases/{case['id']}/follow-ups", json={"due_on": today.isoformat()},
                                    headers=worker)
        assert r.status_code == 201, r.text
        for path in (f"/v1/beneficiaries/{case['beneficiary_id']}", f"/v1/cases/{case['id']}/follow-ups/{r.json()['id']}"):
            pooled, orm, got = await self._statements(cases_app, lambda: cases_client.get(path, headers=worker))
            assert got.status_code == 200, path
            assert orm == [] and len(pooled) == 1, (path, pooled, orm)

    async def test_verified_token_still_expires(self, cases_client, worker, signer, open_case):
        """Verified tokens are remembered by the service, but only until their expiry."""
        case = await open_case(worker)
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        token = signer.access_token(principal, ttl_s=2)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await cases_client.get(f"/v1/cases/{case['id']}", headers=headers)).status_code == 200
        assert (await cases_client.get(f"/v1/cases/{case['id']}", headers=headers)).status_code == 200
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
        r = await cases_client.get(f"/v1/cases/{case['id']}", headers=headers)
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        r = await cases_client.get(f"/v1/cases/{case['id']}", headers={"Authorization": f"Bearer {tampered}"})
        assert r.status_code == 401
