"""A case's records: the five kinds share create/list/get/update/delete; referrals add their steps."""

from datetime import timedelta

import pytest

from tests.fixtures.calls import with_etag

def bodies(today):
    t = today.isoformat()
    return {
        "assessments": ({"assessed_on": t, "areas": ["health", "income"], "needs": "需要助餐",
                         "risk_level": "medium"}, {"notes": "复评"}, "assessed_on"),
        "plans": ({"planned_on": t, "goals": [{"goal": "每周两次助餐", "measure": "签到", "due_on": t}],
                   "review_on": (today + timedelta(days=30)).isoformat()}, {"status": "completed"}, "planned_on"),
        "service-records": ({"served_on": t, "mode": "home_visit", "duration_minutes": 45, "content": "入户探访",
                             "service_type": "elder_child_care"}, {"person_times": 2}, "served_on"),
        "referrals": ({"agency": "区残联", "reason": "辅具申请", "referred_on": t}, {"notes": "已电话确认"},
                      "referred_on"),
        "follow-ups": ({"due_on": (today + timedelta(days=3)).isoformat(), "method": "phone"},
                       {"done_on": t, "notes": "情况稳定"}, "due_on"),
    }


KINDS = ["assessments", "plans", "service-records", "referrals", "follow-ups"]
TABLES = {"assessments": "assessment", "plans": "service_plan", "service-records": "service_record",
          "referrals": "referral", "follow-ups": "follow_up"}


@pytest.mark.parametrize("kind", KINDS)
class TestCaseRecordLifecycle:
    async def test_create_get_update_delete(self, kind, cases_client, worker, worker2, supervisor, sibling, official,
                                            open_case, db, today):
        create, change, _ = bodies(today)[kind]
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/{kind}"
        r = await cases_client.post(base, json=create, headers=worker)
        assert r.status_code == 201, r.text
        record = r.json()
        assert record["case_id"] == case["id"] and record["station_id"] == 2 and r.headers["etag"] == '"1"'
        url = f"{base}/{record['id']}"
        assert r.headers["location"] == url

        for headers in (worker2, supervisor):
            got = await cases_client.get(url, headers=headers)
            assert got.status_code == 200 and got.json() == record
        for headers in (sibling, official):
            assert (await cases_client.get(url, headers=headers)).status_code == 404
            assert (await cases_client.get(base, headers=headers)).status_code == 404
        listed = (await cases_client.get(base, headers=worker2)).json()
        assert [i["id"] for i in listed["items"]] == [record["id"]] and listed["next_cursor"] is None

        assert (await cases_client.patch(url, json=change, headers=worker)).status_code == 428
        assert (await cases_client.patch(url, json=change, headers=with_etag(worker, '"9"'))).status_code == 412
        assert (await cases_client.patch(url, json=change, headers=with_etag(supervisor, '"1"'))).status_code == 403
        assert (await cases_client.patch(url, json=change, headers=with_etag(sibling, '"1"'))).status_code == 404
        r = await cases_client.patch(url, json=change, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == '"2"'
        assert all(r.json()[k] == v for k, v in change.items())

        assert (await cases_client.delete(url, headers=worker)).status_code == 428
        assert (await cases_client.delete(url, headers=with_etag(worker, '"1"'))).status_code == 412
        assert (await cases_client.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        assert (await cases_client.get(url, headers=worker)).status_code == 404
        assert (await cases_client.get(base, headers=worker)).json()["items"] == []
        row = await db.fetchrow(f"SELECT deleted_at, version, updated_by FROM cases.{TABLES[kind]}")
        assert row["deleted_at"] is not None and row["version"] == 3 and row["updated_by"] == "w2"

    async def test_client_id_replay(self, kind, cases_client, worker, open_case, db, today):
        create, _, _ = bodies(today)[kind]
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/{kind}"
        body = {**create, "id": f"tab-{kind}"}
        first = await cases_client.post(base, json=body, headers=worker)
        again = await cases_client.post(base, json=body, headers=worker)
        assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
        other_case = await open_case(worker)
        moved = await cases_client.post(f"/v1/cases/{other_case['id']}/{kind}", json=body, headers=worker)
        assert moved.status_code == 409
        assert await db.fetchval(f"SELECT count(*) FROM cases.{TABLES[kind]}") == 1

    async def test_bad_input_writes_nothing(self, kind, cases_client, worker, open_case, db, today):
        create, _, date_field = bodies(today)[kind]
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/{kind}"
        bad = [({**create, "extra": 1}, "extra"), ({**create, date_field: "2026-02-30"}, date_field)]
        if kind != "service-records":  # a service record's date defaults to today (test_casework_flow.py)
            bad.append(({k: v for k, v in create.items() if k != date_field}, date_field))
        for body, field in bad:
            r = await cases_client.post(base, json=body, headers=worker)
            assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}, r.text
        assert await db.fetchval(f"SELECT count(*) FROM cases.{TABLES[kind]}") == 0


class TestGetRecord:
    """One read answers both questions the route asks: is the case there, and is the record in it."""

    async def test_which_is_missing(self, cases_client, worker, open_case, db, today):
        case = await open_case(worker)
        other = await open_case(worker, case["beneficiary_id"])
        r = await cases_client.post(f"/v1/cases/{case['id']}/follow-ups", json={"due_on": today.isoformat()},
                                    headers=worker)
        rid = r.json()["id"]

        async def problem(path: str) -> str:
            got = await cases_client.get(path, headers=worker)
            assert got.status_code == 404 and got.headers["content-type"] == "application/problem+json"
            return got.json()["type"].rsplit("/", 1)[-1]

        assert await problem(f"/v1/cases/{other['id']}/follow-ups/{rid}") == "record-not-found"
        assert await problem(f"/v1/cases/{case['id']}/assessments/{rid}") == "record-not-found"
        assert await problem(f"/v1/cases/nope/follow-ups/{rid}") == "case-not-found"
        await db.execute("UPDATE cases.\"case\" SET deleted_at = now() WHERE id = $1", case["id"])
        assert await problem(f"/v1/cases/{case['id']}/follow-ups/{rid}") == "case-not-found"

    async def test_record_outside_scope_in_a_visible_case(self, cases_client, worker, head, open_case, db, today):
        case = await open_case(worker)
        r = await cases_client.post(f"/v1/cases/{case['id']}/follow-ups", json={"due_on": today.isoformat()},
                                    headers=worker)
        url = f"/v1/cases/{case['id']}/follow-ups/{r.json()['id']}"
        # A record whose own path left the worker's subtree is out of scope even though its case is not.
        await db.execute("UPDATE cases.follow_up SET station_path = '/1/3/' WHERE id = $1", r.json()["id"])
        got = await cases_client.get(url, headers=worker)
        assert got.status_code == 404 and got.json()["type"].endswith("record-not-found")
        await db.execute("UPDATE cases.follow_up SET station_path = '/1/2/' WHERE id = $1", r.json()["id"])
        got = await cases_client.get(url, headers=head)
        assert got.status_code == 200 and got.json()["id"] == r.json()["id"] and got.headers["etag"] == '"1"'


class TestServiceRecordInput:
    async def test_future_and_enum_checks(self, cases_client, worker, open_case, db, today):
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/service-records"
        good = bodies(today)["service-records"][0]
        for change, field in (({"served_on": (today + timedelta(days=1)).isoformat()}, "served_on"),
                              ({"mode": "telepathy"}, "mode"), ({"service_type": "cooking"}, "service_type"),
                              ({"person_times": 0}, "person_times"), ({"duration_minutes": -5}, "duration_minutes"),
                              ({"resources_yuan": -1}, "resources_yuan"), ({"content": "x" * 10_001}, "content")):
            r = await cases_client.post(base, json={**good, **change}, headers=worker)
            assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}, (change, r.text)
        assert await db.fetchval("SELECT count(*) FROM cases.service_record") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.daily_stat WHERE metric = 'person_times.casework'") == 0

    async def test_before_case_opened(self, cases_client, worker, open_case, today):
        case = await open_case(worker, opened_on=today.isoformat())
        good = bodies(today)["service-records"][0]
        r = await cases_client.post(f"/v1/cases/{case['id']}/service-records", headers=worker,
                                    json={**good, "served_on": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "served_on"

    async def test_defaults_and_snapshot(self, cases_client, worker, register, open_case, db, today):
        b = await register(worker, populations=["disabled", "dibao"])
        case = await open_case(worker, b["id"])
        r = await cases_client.post(f"/v1/cases/{case['id']}/service-records", headers=worker,
                                    json=bodies(today)["service-records"][0])
        record = r.json()
        assert record["worker_id"] == "w2" and record["person_times"] == 1
        assert record["populations"] == ["disabled", "dibao"] and record["beneficiary_id"] == b["id"]


class TestServiceRecordList:
    async def test_filters_and_pages(self, cases_client, worker, open_case, today):
        case = await open_case(worker, opened_on=(today - timedelta(days=20)).isoformat())
        base = f"/v1/cases/{case['id']}/service-records"
        good = bodies(today)["service-records"][0]
        for i in range(5):
            body = {**good, "served_on": (today - timedelta(days=i * 3)).isoformat(),
                    **({"worker_id": "w-other"} if i == 4 else {})}
            assert (await cases_client.post(base, json=body, headers=worker)).status_code == 201
        items = (await cases_client.get(base, headers=worker)).json()["items"]
        assert [i["served_on"] for i in items] == sorted((i["served_on"] for i in items), reverse=True)
        recent = (await cases_client.get(base, headers=worker,
                                         params={"from": (today - timedelta(days=5)).isoformat()})).json()["items"]
        assert len(recent) == 2
        theirs = (await cases_client.get(base, headers=worker, params={"worker_id": "w-other"})).json()["items"]
        assert len(theirs) == 1
        first = (await cases_client.get(base, headers=worker, params={"limit": 3})).json()
        second = (await cases_client.get(base, headers=worker,
                                         params={"limit": 3, "cursor": first["next_cursor"]})).json()
        assert len(first["items"]) == 3 and len(second["items"]) == 2 and second["next_cursor"] is None
        assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


class TestReferralSteps:
    async def test_pending_accepted_completed(self, cases_client, worker, open_case, today):
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/referrals"
        ref = (await cases_client.post(base, headers=worker, json=bodies(today)["referrals"][0])).json()
        assert ref["status"] == "pending"
        url = f"{base}/{ref['id']}"
        r = await cases_client.post(f"{url}/complete", headers=worker)
        assert r.status_code == 409 and r.json()["allowed_actions"] == ["accept", "reject"]
        accepted = await cases_client.post(f"{url}/accept", headers=worker, json={"note": "对方已接收"})
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
        assert accepted.json()["responded_on"] == today.isoformat() and "对方已接收" in accepted.json()["notes"]
        assert (await cases_client.post(f"{url}/reject", headers=worker)).status_code == 409
        done = await cases_client.post(f"{url}/complete", headers=worker)
        assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["version"] == 3
        assert (await cases_client.post(f"{url}/accept", headers=worker)).status_code == 409

    async def test_rejected_is_final(self, cases_client, worker, sibling, open_case, today):
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/referrals"
        ref = (await cases_client.post(base, headers=worker, json=bodies(today)["referrals"][0])).json()
        assert (await cases_client.post(f"{base}/{ref['id']}/reject", headers=sibling)).status_code == 404
        assert (await cases_client.post(f"{base}/{ref['id']}/reject", headers=worker)).json()["status"] == "rejected"
        r = await cases_client.post(f"{base}/{ref['id']}/complete", headers=worker)
        assert r.status_code == 409 and r.json()["allowed_actions"] == []

    async def test_status_filter(self, cases_client, worker, open_case, today):
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/referrals"
        a = (await cases_client.post(base, headers=worker, json=bodies(today)["referrals"][0])).json()
        await cases_client.post(base, headers=worker, json=bodies(today)["referrals"][0])
        await cases_client.post(f"{base}/{a['id']}/accept", headers=worker)
        items = (await cases_client.get(base, headers=worker, params={"status": "accepted"})).json()["items"]
        assert [i["id"] for i in items] == [a["id"]]


class TestPlanGoals:
    async def test_goal_shape_checked(self, cases_client, worker, open_case, today):
        case = await open_case(worker)
        r = await cases_client.post(f"/v1/cases/{case['id']}/plans", headers=worker, json={
            "planned_on": today.isoformat(), "goals": [{"goal": "x", "status": "maybe"}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "goals.0.status"
