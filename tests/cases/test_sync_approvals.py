"""Tablets and supervision (sync schema version 5): a case's step pushed as `step` is taken, or
submitted when it needs a supervisor's approval; the case's `pending_step` and the `approvals`
table come down read-only, decisions included; a retried push asks nothing twice."""

import pytest

from tests.cases.test_sync import pull, push
from tests.fixtures.calls import posted

pytestmark = pytest.mark.usefixtures("tree")


@pytest.fixture
def centre_supervisor(token_for):
    return token_for("supervisor", 10, "/9/10/", user_id="sv10")


def asking(row: dict, step: str, **fields) -> dict:
    """The case's pulled row as WatermelonDB pushes it back once the tablet set `step`."""
    return {**row, "step": step, **fields, "_status": "updated", "_changed": ",".join(["step", *fields])}


class TestPushedSteps:
    async def test_a_step_needing_approval_is_submitted_and_the_decision_comes_down(
            self, cases_client, service_headers, db, worker, head, centre_supervisor, open_case, today):
        r = await cases_client.put("/v1/approval-rules/2", json={"steps": ["plan"]}, headers=head)
        assert r.status_code == 200, r.text
        await posted(cases_client, "/v1/supervisor-assignments", {"supervisor_id": "sv10", "station_id": 2}, head)
        case = await open_case(worker)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        row = rows["cases"][case["id"]]
        assert row["pending_step"] is None and row["step"] is None and "approvals" not in rows

        # Not gated: taken at once.
        await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "assess")]}}, since=cursor)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        row = rows["cases"][case["id"]]
        assert row["status"] == "assessment" and row["pending_step"] is None

        # Gated: submitted; pushed again (a retry), nothing more.
        for _ in range(2):
            await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "plan", step_on=today.isoformat())]}},
                       since=cursor)
        assert await db.fetchval("SELECT count(*) FROM cases.approval WHERE case_id = $1", case["id"]) == 1
        cursor, rows, _ = await pull(cases_client, service_headers, db, since=cursor)
        row = rows["cases"][case["id"]]
        assert row["status"] == "assessment" and row["pending_step"] == "plan"
        [approval] = rows["approvals"].values()
        assert (approval["case_id"], approval["step"], approval["status"]) == (case["id"], "plan", "pending")

        # Another step meanwhile is refused naming the record, as the REST action's 409.
        problem = await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "intervene")]}},
                             since=cursor, expect=409)
        assert problem["type"].endswith("/step-awaiting-approval") and problem["step"] == "plan"

        # Returned with comments, then approved: each decision comes down with the next pull.
        r = await cases_client.post(f"/v1/approvals/{approval['id']}/return", headers=centre_supervisor,
                                    json={"comments": "补充目标"})
        assert r.status_code == 200, r.text
        cursor, rows, _ = await pull(cases_client, service_headers, db, since=cursor)
        assert rows["approvals"][approval["id"]]["status"] == "returned"
        assert rows["approvals"][approval["id"]]["comments"] == "补充目标"
        row = rows["cases"][case["id"]]
        assert row["pending_step"] is None
        await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "plan")]}}, since=cursor)
        [again] = (await cases_client.get("/v1/approvals", headers=centre_supervisor,
                                          params={"status": "pending"})).json()["items"]
        r = await cases_client.post(f"/v1/approvals/{again['id']}/approve", headers=centre_supervisor)
        assert r.status_code == 200, r.text
        cursor, rows, _ = await pull(cases_client, service_headers, db, since=cursor)
        assert rows["cases"][case["id"]]["status"] == "planning"
        assert rows["cases"][case["id"]]["pending_step"] is None
        assert rows["approvals"][again["id"]]["status"] == "approved"

    async def test_bad_steps_and_approvals_written_by_a_tablet_are_refused(self, cases_client, service_headers, db,
                                                                          worker, open_case):
        case = await open_case(worker)
        cursor, rows, _ = await pull(cases_client, service_headers, db)
        row = rows["cases"][case["id"]]
        problem = await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "dance")]}},
                             since=cursor, expect=422)
        assert problem["errors"][0]["field"] == f"changes.cases.{case['id']}.step"
        problem = await push(cases_client, service_headers, {"cases": {"updated": [asking(row, "close")]}},
                             since=cursor, expect=422)
        assert problem["errors"][0]["field"] == f"changes.cases.{case['id']}.step_reason"
        await push(cases_client, service_headers, {"cases": {"updated": [
            asking(row, "close", step_reason="client_withdrew")]}}, since=cursor)
        assert await db.fetchval('SELECT status FROM cases."case" WHERE id = $1', case["id"]) == "closed"
        problem = await push(cases_client, service_headers, {"approvals": {"created": [
            {"id": "made-up", "case_id": case["id"], "step": "plan", "status": "approved"}]}}, expect=422)
        assert problem["errors"][0]["field"] == "changes.approvals.made-up.id"
        assert await db.fetchval("SELECT count(*) FROM cases.approval") == 0
