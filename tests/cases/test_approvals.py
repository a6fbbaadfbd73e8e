"""Supervision of casework: steps submitted for a supervisor's approval, approved or returned with
comments, the 409 of a case with a pending step, approval rules inherited and overridden down the
station tree, and supervisors reaching approvals only through live assignments."""

import pytest

from tests.fixtures.calls import fields_of, posted

# A supervisor of a support centre in another province: outside station 2's subtree.
CENTRE = ("supervisor", 10, "/9/10/")


@pytest.fixture
def centre_supervisor(token_for):
    return token_for(*CENTRE, user_id="sv10")


@pytest.fixture
def other_supervisor(token_for):
    return token_for(*CENTRE, user_id="sv11")


@pytest.fixture
def platform_default(cases_app):
    """The cases service as deployed by default: the service plan and the closure need approval
    (the suites' shared app runs with none, tests/conftest.py)."""
    settings = cases_app.state.settings
    kept = settings.approval_default_steps
    settings.approval_default_steps = "plan,close"
    yield
    settings.approval_default_steps = kept


@pytest.fixture
def assign(cases_client, tree):
    async def make(headers, supervisor_id: str, station_id: int, expect: int = 201) -> dict:
        return await posted(cases_client, "/v1/supervisor-assignments",
                            {"supervisor_id": supervisor_id, "station_id": station_id}, headers, expect)

    return make


async def queue(client, headers, **params) -> list[dict]:
    r = await client.get("/v1/approvals", headers=headers, params={"status": "pending", **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def case_of(client, headers, case_id: str) -> dict:
    r = await client.get(f"/v1/cases/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def set_rule(client, headers, station_id: int, steps: list[str], high_risk: bool = False, expect: int = 200):
    r = await client.put(f"/v1/approval-rules/{station_id}", headers=headers,
                         json={"steps": steps, "high_risk": high_risk})
    assert r.status_code == expect, r.text
    return r.json()


@pytest.mark.usefixtures("platform_default")
class TestSubmitted:
    async def test_a_plan_is_submitted_not_taken_and_the_case_waits(self, cases_client, worker, open_case, act):
        case = await open_case(worker)
        assert (await act(worker, case["id"], "assess"))["status"] == "assessment"  # not in the default rule
        submitted = await act(worker, case["id"], "plan", expect=202, note="计划：每周两次上门")
        assert submitted["status"] == "assessment" and submitted["pending_step"] == "plan"
        shown = await case_of(cases_client, worker, case["id"])
        assert shown["status"] == "assessment" and shown["pending_step"] == "plan"
        for action, body in (("intervene", None), ("plan", None), ("close", {"reason": "other"})):
            r = await cases_client.post(f"/v1/cases/{case['id']}/{action}", headers=worker, json=body)
            assert r.status_code == 409, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["type"].endswith("/step-awaiting-approval") and problem["step"] == "plan"
            assert "'plan'" in problem["detail"]
        events = (await cases_client.get(f"/v1/cases/{case['id']}/events", headers=worker)).json()["items"]
        assert [e["action"] for e in events] == ["open", "assess"]

    async def test_a_closure_is_submitted_but_ending_follow_up_is_not(self, cases_client, worker, head, open_case,
                                                                        act, assign, centre_supervisor):
        await assign(head, "sv10", 2)
        case = await open_case(worker)
        await act(worker, case["id"], "close", expect=202, reason="client_withdrew")
        [pending] = await queue(cases_client, centre_supervisor)
        r = await cases_client.post(f"/v1/approvals/{pending['id']}/approve", headers=centre_supervisor)
        assert r.status_code == 200, r.text
        assert (await case_of(cases_client, worker, case["id"]))["status"] == "closed"
        await act(worker, case["id"], "follow-up")
        assert (await act(worker, case["id"], "close", reason="completed"))["status"] == "closed"


@pytest.mark.usefixtures("platform_default")
class TestDecisions:
    async def test_approved_step_takes_effect_as_submitted(self, cases_client, worker, head, open_case, act, assign,
                                                           centre_supervisor, today, db):
        await assign(head, "sv10", 2)
        case = await open_case(worker, risk_level="high")
        await act(worker, case["id"], "assess")
        await act(worker, case["id"], "plan", expect=202, on=today.isoformat(), note="计划：每周两次上门")
        [pending] = await queue(cases_client, centre_supervisor)
        assert pending["case_id"] == case["id"] and pending["step"] == "plan" and pending["status"] == "pending"
        assert pending["submitted_by"] == "w2" and pending["note"] == "计划：每周两次上门"
        assert pending["case"]["title"] == case["title"] and pending["case"]["risk_level"] == "high"

        r = await cases_client.post(f"/v1/approvals/{pending['id']}/approve", headers=centre_supervisor,
                                    json={"comments": "同意"})
        assert r.status_code == 200, r.text
        decided = r.json()
        assert decided["status"] == "approved" and decided["decided_by"] == "sv10" and decided["decided_at"]
        assert decided["comments"] == "同意"
        shown = await case_of(cases_client, worker, case["id"])
        assert shown["status"] == "planning" and shown["pending_step"] is None
        events = (await cases_client.get(f"/v1/cases/{case['id']}/events", headers=worker)).json()["items"]
        assert [(e["action"], e["occurred_on"]) for e in events][-1] == ("plan", today.isoformat())
        assert events[-1]["note"] == "计划：每周两次上门"
        assert await queue(cases_client, centre_supervisor) == []
        again = await cases_client.post(f"/v1/approvals/{pending['id']}/approve", headers=centre_supervisor)
        assert again.status_code == 409 and again.json()["type"].endswith("/approval-decided")
        # The next step is free again.
        assert (await act(worker, case["id"], "intervene"))["status"] == "intervention"
        audit = await db.fetch("SELECT actor_id, action FROM cases.audit_log WHERE record_table = 'approval' "
                               "AND record_id = $1 AND action IN ('create', 'update') ORDER BY id", pending["id"])
        assert [(a["actor_id"], a["action"]) for a in audit] == [("w2", "create"), ("sv10", "update")]

    async def test_returned_step_goes_back_to_the_caseload_with_comments(self, cases_client, worker, head,
                                                                         open_case, act, assign, centre_supervisor):
        await assign(head, "sv10", 2)
        case = await open_case(worker)
        await act(worker, case["id"], "assess")
        await act(worker, case["id"], "plan", expect=202)
        [pending] = await queue(cases_client, centre_supervisor)
        blank = await cases_client.post(f"/v1/approvals/{pending['id']}/return", headers=centre_supervisor,
                                        json={"comments": "  "})
        assert blank.status_code == 422 and fields_of(blank) == {"comments"}
        assert (await queue(cases_client, centre_supervisor))[0]["status"] == "pending"

        r = await cases_client.post(f"/v1/approvals/{pending['id']}/return", headers=centre_supervisor,
                                    json={"comments": "目标要具体，补充家属支持"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "returned" and r.json()["decided_by"] == "sv10"
        shown = await case_of(cases_client, worker, case["id"])
        assert shown["status"] == "assessment" and shown["pending_step"] is None
        load = (await cases_client.get("/v1/caseload", headers=worker)).json()["items"]
        [item] = [i for i in load if i["case"]["id"] == case["id"]]
        assert item["returned"]["step"] == "plan" and item["returned"]["comments"] == "目标要具体，补充家属支持"
        assert item["returned"]["returned_by"] == "sv10"

        # Submitted again, the returned mark goes and the new submission waits.
        await act(worker, case["id"], "plan", expect=202)
        load = (await cases_client.get("/v1/caseload", headers=worker)).json()["items"]
        [item] = [i for i in load if i["case"]["id"] == case["id"]]
        assert item["returned"] is None and item["case"]["pending_step"] == "plan"
        decisions = (await cases_client.get("/v1/approvals", headers=worker,
                                            params={"case_id": case["id"]})).json()["items"]
        assert [d["status"] for d in decisions] == ["returned", "pending"]

    async def test_only_an_assigned_supervisor_decides(self, cases_client, worker, head, supervisor, open_case, act,
                                                       assign, centre_supervisor, other_supervisor):
        await assign(head, "sv10", 2)
        case = await open_case(worker)
        await act(worker, case["id"], "assess")
        await act(worker, case["id"], "plan", expect=202)
        [pending] = await queue(cases_client, centre_supervisor)
        url = f"/v1/approvals/{pending['id']}"
        # Another supervisor, and station 2's own supervisor without an assignment, find nothing.
        for outsider in (other_supervisor, supervisor):
            assert await queue(cases_client, outsider) == []
            assert (await cases_client.get(url, headers=outsider)).status_code == 404
            assert (await cases_client.post(url + "/approve", headers=outsider)).status_code == 404
        for not_a_supervisor in (worker, head):
            assert (await cases_client.post(url + "/approve", headers=not_a_supervisor)).status_code == 403
        assert (await case_of(cases_client, worker, case["id"]))["pending_step"] == "plan"

    async def test_a_removed_assignment_ends_access_at_once(self, cases_client, worker, head, open_case, act,
                                                            assign, centre_supervisor):
        assignment = await assign(head, "sv10", 2)
        assert (await assign(head, "sv10", 2, expect=200))["id"] == assignment["id"]
        case = await open_case(worker)
        await act(worker, case["id"], "assess")
        await act(worker, case["id"], "plan", expect=202)
        [pending] = await queue(cases_client, centre_supervisor)
        mine = await cases_client.get("/v1/supervisor-assignments", headers=centre_supervisor)
        assert [a["station_id"] for a in mine.json()["items"]] == [2]

        r = await cases_client.delete(f"/v1/supervisor-assignments/{assignment['id']}", headers=head)
        assert r.status_code == 204
        assert await queue(cases_client, centre_supervisor) == []
        url = f"/v1/approvals/{pending['id']}"
        assert (await cases_client.get(url, headers=centre_supervisor)).status_code == 404
        assert (await cases_client.post(url + "/approve", headers=centre_supervisor)).status_code == 404
        assert (await case_of(cases_client, worker, case["id"]))["pending_step"] == "plan"
        assert (await cases_client.get("/v1/supervisor-assignments", headers=centre_supervisor)).json()["items"] == []

    async def test_an_assignment_covers_the_stations_below(self, cases_client, room_worker, sibling, head,
                                                           city_head, open_case, act, assign, centre_supervisor):
        await assign(head, "sv10", 2)
        room_case = await open_case(room_worker)
        await act(room_worker, room_case["id"], "close", expect=202, reason="client_withdrew")
        sibling_case = await open_case(sibling)
        await act(sibling, sibling_case["id"], "close", expect=202, reason="client_withdrew")
        assert [a["case_id"] for a in await queue(cases_client, centre_supervisor)] == [room_case["id"]]
        # The city's head sees both stations' submissions; the sibling's worker only its own.
        assert len(await queue(cases_client, city_head)) == 2
        assert [a["case_id"] for a in await queue(cases_client, sibling)] == [sibling_case["id"]]

    async def test_the_queue_pages_oldest_first(self, cases_client, worker, head, open_case, act, assign,
                                                centre_supervisor):
        await assign(head, "sv10", 2)
        submitted = []
        for _ in range(3):
            case = await open_case(worker)
            await act(worker, case["id"], "close", expect=202, reason="client_withdrew")
            submitted.append(case["id"])
        seen, cursor = [], None
        while True:
            params = {"status": "pending", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await cases_client.get("/v1/approvals", headers=centre_supervisor, params=params)).json()
            assert len(page["items"]) <= 2
            seen += [a["case_id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == submitted

    async def test_assigning_is_for_heads_and_admins_within_their_scope(self, cases_client, worker, head,
                                                                       sibling_head, admin_token, assign, db):
        await assign(worker, "sv10", 2, expect=403)
        refused = await cases_client.post("/v1/supervisor-assignments", headers=sibling_head,
                                          json={"supervisor_id": "sv10", "station_id": 2})
        assert refused.status_code == 422 and fields_of(refused) == {"station_id"}
        assert await db.fetchval("SELECT count(*) FROM cases.supervisor_assignment") == 0
        made = await assign(admin_token, "sv10", 4)
        assert made["station_id"] == 4
        gone = await cases_client.delete(f"/v1/supervisor-assignments/{made['id']}", headers=sibling_head)
        assert gone.status_code == 404

    async def test_the_assigned_supervisor_reads_the_case_file(self, cases_client, worker, head, admin_token,
                                                              open_case, act, assign, centre_supervisor,
                                                              other_supervisor, today, db):
        await assign(head, "sv10", 2)
        case = await open_case(worker)
        await act(worker, case["id"], "assess")
        plan = await posted(cases_client, f"/v1/cases/{case['id']}/plans", {
            "planned_on": today.isoformat(), "goals": [{"goal": "每周两次助餐"}], "notes": "家属可协助"}, worker)
        await act(worker, case["id"], "plan", expect=202)
        [pending] = await queue(cases_client, centre_supervisor)
        url = f"/v1/approvals/{pending['id']}/case"
        r = await cases_client.get(url, headers=centre_supervisor)
        assert r.status_code == 200, r.text
        file = r.json()
        assert file["case"]["id"] == case["id"] and file["case"]["pending_step"] == "plan"
        assert [p["id"] for p in file["plans"]] == [plan["id"]] and file["plans"][0]["notes"] == "家属可协助"
        assert [e["action"] for e in file["events"]] == ["open", "assess"]
        # The case is not theirs outside the approval: the case's own route keeps to the subtree.
        assert (await cases_client.get(f"/v1/cases/{case['id']}", headers=centre_supervisor)).status_code == 404
        assert (await cases_client.get(url, headers=other_supervisor)).status_code == 404
        # An administrator reads it without the notes about the person.
        assert (await cases_client.get(url, headers=admin_token)).json()["plans"][0]["notes"] is None
        logged = await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE actor_id = 'sv10' AND action = 'read' "
                                   "AND record_table = 'service_plan' AND record_id = $1", plan["id"])
        assert logged == 1

    async def test_notes_follow_the_masking_of_case_notes(self, cases_client, worker, head, admin_token, open_case,
                                                          act, assign, centre_supervisor):
        await assign(head, "sv10", 2)
        case = await open_case(worker)
        await act(worker, case["id"], "close", expect=202, reason="other", note="家属拒绝继续服务")
        [pending] = await queue(cases_client, centre_supervisor)
        assert pending["note"] == "家属拒绝继续服务"
        [seen] = await queue(cases_client, admin_token)
        assert seen["id"] == pending["id"] and seen["note"] is None


class TestRules:
    async def test_the_default_is_the_plan_and_the_closure(self, cases_client, tree, worker, platform_default):
        r = await cases_client.get("/v1/approval-rules/4", headers=worker)
        assert r.status_code == 200
        assert r.json() == {"station_id": 4, "steps": ["plan", "close"], "high_risk": False,
                            "set_at_station_id": None}

    async def test_inherited_down_the_tree_and_overridden(self, cases_client, worker, room_worker, city_head, head,
                                                          open_case, act):
        await set_rule(cases_client, city_head, 1, ["assess", "assess", "close"])
        rule = (await cases_client.get("/v1/approval-rules/4", headers=room_worker)).json()
        assert rule["steps"] == ["assess", "close"] and rule["set_at_station_id"] == 1
        case = await open_case(worker)
        await act(worker, case["id"], "assess", expect=202)

        # Station 2 overrides: nothing needs approval there and in the room below it.
        assert (await set_rule(cases_client, head, 2, []))["set_at_station_id"] == 2
        room_case = await open_case(room_worker)
        assert (await act(room_worker, room_case["id"], "assess"))["status"] == "assessment"
        assert (await act(room_worker, room_case["id"], "plan"))["status"] == "planning"

        # Removed, station 2 inherits the city's rule again.
        assert (await cases_client.delete("/v1/approval-rules/2", headers=head)).status_code == 204
        rule = (await cases_client.get("/v1/approval-rules/4", headers=room_worker)).json()
        assert rule["set_at_station_id"] == 1
        await act(room_worker, room_case["id"], "close", expect=202, reason="client_withdrew")

    async def test_high_risk_cases_need_approval_of_every_step(self, cases_client, worker, city_head, open_case,
                                                               act):
        await set_rule(cases_client, city_head, 1, [], high_risk=True)
        risky = await open_case(worker, risk_level="critical")
        calm = await open_case(worker, risk_level="medium")
        await act(worker, risky["id"], "assess", expect=202)
        assert (await act(worker, calm["id"], "assess"))["status"] == "assessment"

    async def test_who_may_set_a_rule(self, cases_client, tree, worker, sibling_head, head, db):
        await set_rule(cases_client, worker, 2, ["assess"], expect=403)
        await set_rule(cases_client, sibling_head, 2, ["assess"], expect=404)
        bad = await cases_client.put("/v1/approval-rules/2", headers=head, json={"steps": ["dance"]})
        assert bad.status_code == 422 and fields_of(bad) == {"steps.0"}
        assert await db.fetchval("SELECT count(*) FROM cases.approval_rule") == 0
        assert (await cases_client.get("/v1/approval-rules/2", headers=sibling_head)).status_code == 404
