"""A tablet's push across two services is written once (shared/prepared.py): the cases service's
part held as a prepared transaction while the projects service writes its own on the description
of the person new in the push, then committed; rolled back when the projects service refuses.
What the gateway did before, a dry run in every service and then the writes, is still what it does
when a service cannot prepare: both ways store the same rows, audit and figures."""

from __future__ import annotations

import dataclasses
import uuid

import httpx

from gateway.sync.registry import registry
from services.cases import models as cases_models
from services.projects import models as projects_models
from shared import clock, prepared
from shared.crypto import open_row
from tests.cases.test_sync import tablet_beneficiary, tablet_case, tablet_service_record
from tests.gateway.test_sync_flow import station_tablet


class Calls(httpx.AsyncBaseTransport):
    """A service's connection, recording every push call: ("push", check_only, prepare given), or
    ("commit" | "rollback", None, False) for the end of a prepared part. `fail(call)` says whether
    to cut one off instead."""

    def __init__(self, client: httpx.AsyncClient, fail=lambda call: False) -> None:
        self.client, self.fail, self.seen = client, fail, []

    async def handle_async_request(self, request):
        path = request.url.path
        if path in ("/internal/sync/push", "/internal/sync/prepared"):
            await request.aread()
            body = httpx.Response(200, content=request.content).json()
            call = (("push", body.get("check_only"), bool(body.get("prepare"))) if path.endswith("/push")
                    else ("commit" if body["commit"] else "rollback", None, False))
            self.seen.append(call)
            if self.fail(call):
                raise httpx.ConnectError("cut off", request=request)
        return await self.client._transport.handle_async_request(request)


def watch(gateway, service: str, fail=lambda call: False) -> Calls:
    upstreams = gateway.app.state.upstreams
    calls = Calls(upstreams._clients[service], fail)
    upstreams._clients[service] = httpx.AsyncClient(base_url=f"http://{service}", transport=calls)
    return calls


async def left_prepared(db) -> list[str]:
    return [r["gid"] for r in await db.fetch(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'haolin-push-%'")]


async def festival_push(gateway, head, township) -> tuple[dict, dict]:
    """A project, and a push registering a newcomer with a case and a service record (cases) and her
    attendance at a new festival (projects)."""
    today = clock.today()
    r = await gateway.post("/v1/projects", headers=head, json={
        "name": "敬老项目", "purchaser": "区民政局", "operator": "好邻社工中心",
        "starts_on": today.isoformat(), "ends_on": today.isoformat()})
    assert r.status_code == 201, r.text
    person = tablet_beneficiary(station_id=township["id"], populations='["elderly"]')
    case = tablet_case(person["id"], today)
    record = tablet_service_record(case["id"], today)
    festival = {"id": f"a-{uuid.uuid4().hex[:10]}", "project_id": r.json()["id"], "station_id": township["id"],
                "title": "重阳节敬老活动", "kind": "festival", "held_on": today.isoformat(), "anonymous_count": 0}
    ticked = {"id": f"att-{uuid.uuid4().hex[:10]}", "activity_id": festival["id"], "beneficiary_id": person["id"]}
    changes = {"beneficiaries": {"created": [person]}, "cases": {"created": [case]},
               "service_records": {"created": [record]}, "activities": {"created": [festival]},
               "attendances": {"created": [ticked]}}
    return changes, {"person": person["id"], "case": case["id"], "record": record["id"], "festival": festival["id"],
                     "ticked": ticked["id"]}


async def stored(db, ids: dict) -> dict[str, int]:
    return {name: await db.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", ids[name]) for name, table in (
        ("person", "cases.beneficiary"), ("case", 'cases."case"'), ("record", "cases.service_record"),
        ("festival", "projects.activity"), ("ticked", "projects.attendance"))}


class TestWrittenOnce:
    async def test_each_service_writes_its_part_once_and_the_newcomer_keeps_her_number(
            self, gateway, admin_headers, gateway_tree, db):
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        reg = await registry(gateway.app.state)
        assert {"cases", "projects"} <= reg.two_phase, (
            "the database allows no prepared transactions: restart the embedded PostgreSQL (make db-stop)")
        changes, ids = await festival_push(gateway, head, township)
        await tablet.pull()
        cases, projects = watch(gateway, "cases"), watch(gateway, "projects")
        await tablet.push(changes)

        # cases: its part written and held prepared, then committed; projects: its part written. No dry run.
        assert cases.seen == [("push", False, True), ("commit", None, False)], cases.seen
        assert projects.seen == [("push", False, False)], projects.seen
        assert await stored(db, ids) == dict.fromkeys(ids, 1)
        assert await left_prepared(db) == []
        # The attendance counts her by the number the cases service gave her (distinct persons).
        number = await db.fetchval("SELECT person_no FROM cases.beneficiary WHERE id = $1", ids["person"])
        assert number is not None
        assert await db.fetchval("SELECT person_no FROM projects.attendance WHERE id = $1", ids["ticked"]) == number

        await tablet.push(changes)  # the answer was lost: the same push again changes nothing
        assert await stored(db, ids) == dict.fromkeys(ids, 1)

    async def test_a_part_the_later_service_refuses_is_rolled_back(self, gateway, admin_headers, gateway_tree, db):
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        changes, ids = await festival_push(gateway, head, township)
        changes["activities"]["created"][0]["title"] = ""  # the projects service refuses it: 422
        await tablet.pull()
        cases = watch(gateway, "cases")
        r = await tablet.push(changes, expect=422)
        assert any("activities" in e["field"] for e in r.json()["errors"]), r.json()
        assert cases.seen == [("push", False, True), ("rollback", None, False)], cases.seen
        assert await stored(db, ids) == dict.fromkeys(ids, 0)  # nothing written, in either service
        assert await left_prepared(db) == []

    async def test_a_lost_commit_is_a_503_and_the_retry_converges_once_the_part_is_swept(
            self, gateway, admin_headers, gateway_tree, db):
        """The projects service wrote its part, then the cases service could not be told to commit:
        the push is half written, and its prepared part waits for its owner's sweep (the gateway may
        have died, as far as the service knows). Once swept, the tablet's retry writes it."""
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        changes, ids = await festival_push(gateway, head, township)
        await tablet.pull()
        cut = watch(gateway, "cases", fail=lambda call: call[0] == "commit")
        r = await tablet.push(changes, expect=503)
        assert r.json()["service"] == "cases" and 2 <= int(r.headers["retry-after"]) <= 10
        assert await stored(db, ids) == {"person": 0, "case": 0, "record": 0, "festival": 1, "ticked": 1}
        [held] = await left_prepared(db)
        assert prepared.owner(held) == "cases"

        assert await prepared.sweep(db, "projects", 0) == []  # not the projects service's
        assert await prepared.sweep(db, "cases", 3600) == []  # not abandoned yet
        assert await prepared.sweep(db, "cases", 0) == [held]
        assert await left_prepared(db) == []
        gateway.app.state.upstreams._clients["cases"] = cut.client
        await tablet.push(changes)
        assert await stored(db, ids) == dict.fromkeys(ids, 1)

    async def test_written_once_or_dry_run_first_store_the_same(self, gateway, admin_headers, gateway_tree, db):
        """The same push both ways (fresh ids): the same rows, audit rows and figures."""
        township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
        reg = await registry(gateway.app.state)
        outcomes = []
        for two_phase in (reg.two_phase, frozenset()):
            gateway.app.state.sync_registry = dataclasses.replace(reg, two_phase=two_phase)
            changes, ids = await festival_push(gateway, head, township)
            await tablet.pull()
            await gateway.forget_stats()
            before = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
            calls = watch(gateway, "projects")
            await tablet.push(changes)
            await gateway.forget_stats()
            after = (await gateway.get("/v1/stats/summary", headers=head)).json()["figures"]
            outcomes.append({
                "calls": [c[:2] for c in calls.seen],
                "figures": {k: after[k]["value"] - before[k]["value"] for k in after
                            if isinstance(after[k].get("value"), (int, float))},
                "rows": await rows_of(db, ids),
                "audit": sorted(tuple(r) for r in await db.fetch(
                    "SELECT 'cases', action, operation, record_table, actor_role, device_id IS NOT NULL FROM cases.audit_log "
                    "WHERE record_id = ANY($1) UNION ALL SELECT 'projects', action, operation, record_table, actor_role, "
                    "device_id IS NOT NULL FROM projects.audit_log WHERE record_id = ANY($1)", list(ids.values()))),
            })
        once, dry_run_first = outcomes
        assert once["calls"] == [("push", False)] and dry_run_first["calls"] == [("push", True), ("push", False)]
        assert once["figures"] == dry_run_first["figures"] and once["figures"]["person_times.casework"] == 1
        assert once["figures"]["person_times.community"] == 1
        assert once["rows"] == dry_run_first["rows"]
        assert once["audit"] == dry_run_first["audit"] and len(once["audit"]) >= 5


async def rows_of(db, ids: dict) -> dict:
    """The stored rows of a push, without what differs from one push to the next (ids, times, numbers)."""
    skip = {"id", "created_at", "updated_at", "change_xid", "person_no", "beneficiary_id", "case_id", "activity_id",
            "create_digest", "project_id"}
    out = {}
    for name, model in (("person", cases_models.Beneficiary), ("case", cases_models.Case),
                        ("record", cases_models.ServiceRecord), ("festival", projects_models.Activity),
                        ("ticked", projects_models.Attendance)):
        table = model.__table__
        row = await db.fetchrow(f'SELECT * FROM {table.schema}."{table.name}" WHERE id = $1', ids[name])
        # Sealed columns opened: the same text is a different ciphertext each time it is sealed.
        out[name] = {k: v for k, v in open_row(table, row).items() if k not in skip}
    return out
