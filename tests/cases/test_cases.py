"""Cases: opening, the lifecycle actions and their history, updates, deletes, scope and lists."""

from datetime import timedelta

from tests.fixtures.calls import with_etag


class TestOpenCase:
    async def test_opens_at_intake_with_history_and_counts(self, cases_client, worker, register, make_project, db,
                                                           today):
        await make_project("p-1")
        b = await register(worker, populations=["elderly", "elderly_alone"])
        r = await cases_client.post("/v1/cases", headers=worker, json={
            "beneficiary_id": b["id"], "title": "独居老人照护", "risk_level": "high", "project_id": "p-1"})
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["status"] == "intake" and case["worker_id"] == "w2" and case["opened_on"] == today.isoformat()
        assert case["populations"] == ["elderly", "elderly_alone"] and r.headers["etag"] == '"1"'
        events = await db.fetch("SELECT action, from_status, to_status FROM cases.case_event")
        assert [tuple(e) for e in events] == [("open", None, "intake")]
        stats = {(r["metric"], r["population"]): r["value"] for r in await db.fetch(
            "SELECT metric, population, value FROM cases.daily_stat WHERE metric LIKE 'cases.%'")}
        assert stats[("cases.new", "_all")] == 1 and stats[("cases.open", "elderly_alone")] == 1

    async def test_filed_at_the_beneficiarys_station_by_default(self, cases_client, worker, register):
        """A township worker's case for a village person is the village's, as the person is."""
        village_person = await register(worker, station_id=4)
        r = await cases_client.post("/v1/cases", headers=worker, json={"beneficiary_id": village_person["id"],
                                                                      "title": "独居老人照护"})
        assert r.status_code == 201, r.text
        assert r.json()["station_id"] == 4

    async def test_refused_outside_the_beneficiarys_subtree(self, cases_client, worker, city_head, register, db):
        township_person = await register(worker)
        for station_id in (1, 3):  # above the person's station, and a sibling township
            r = await cases_client.post("/v1/cases", headers=city_head, json={
                "beneficiary_id": township_person["id"], "title": "x", "station_id": station_id})
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "station_id" and r.json()["errors"][0]["code"] == \
                "outside_beneficiary"
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0
        r = await cases_client.post("/v1/cases", headers=city_head, json={
            "beneficiary_id": township_person["id"], "title": "x", "station_id": 4})  # below it: the village
        assert r.status_code == 201 and r.json()["station_id"] == 4

    async def test_beneficiary_must_be_in_scope(self, cases_client, worker, sibling, register, db):
        b = await register(worker)
        r = await cases_client.post("/v1/cases", headers=sibling, json={"beneficiary_id": b["id"], "title": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "beneficiary_id"
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0

    async def test_bad_input_names_field(self, cases_client, worker, register, db, today):
        b = await register(worker)
        for body, field in (
            ({"beneficiary_id": b["id"], "title": "x", "risk_level": "extreme"}, "risk_level"),
            ({"beneficiary_id": b["id"], "title": "x", "opened_on": (today + timedelta(days=2)).isoformat()},
             "opened_on"),
            ({"beneficiary_id": b["id"], "title": ""}, "title"),
            ({"beneficiary_id": b["id"], "title": "x" * 201}, "title"),
            ({"beneficiary_id": b["id"], "title": "x", "status": "closed"}, "status"),
            ({"beneficiary_id": b["id"], "title": 5}, "title"),
        ):
            r = await cases_client.post("/v1/cases", headers=worker, json=body)
            assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}, (body, r.text)
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0

    async def test_client_id_replay(self, cases_client, worker, register, db):
        b = await register(worker)
        body = {"id": "case-tab-1", "beneficiary_id": b["id"], "title": "x"}
        assert (await cases_client.post("/v1/cases", headers=worker, json=body)).status_code == 201
        assert (await cases_client.post("/v1/cases", headers=worker, json=body)).status_code == 200
        assert (await cases_client.post("/v1/cases", headers=worker, json={**body, "title": "y"})).status_code == 409
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 1
        assert await db.fetchval("SELECT value FROM cases.daily_stat WHERE metric = 'cases.new' "
                                 "AND population = '_all'") == 1


class TestLifecycle:
    async def test_full_path_with_history(self, cases_client, worker, open_case, act, db):
        case = await open_case(worker)
        cid = case["id"]
        for action, status in (("assess", "assessment"), ("plan", "planning"), ("intervene", "intervention"),
                               ("evaluate", "evaluation")):
            assert (await act(worker, cid, action))["status"] == status
        closed = await act(worker, cid, "close", reason="completed", note="目标达成")
        assert closed["status"] == "closed" and closed["close_reason"] == "completed" and closed["closed_on"]
        assert (await act(worker, cid, "follow-up"))["status"] == "follow_up"
        assert (await act(worker, cid, "reopen"))["status"] == "assessment"
        history = (await cases_client.get(f"/v1/cases/{cid}/events", headers=worker)).json()["items"]
        assert [(e["from"], e["to"]) for e in history] == [
            (None, "intake"), ("intake", "assessment"), ("assessment", "planning"), ("planning", "intervention"),
            ("intervention", "evaluation"), ("evaluation", "closed"), ("closed", "follow_up"),
            ("follow_up", "assessment")]
        assert history[5]["note"] == "目标达成" and history[5]["by"] == "w2"
        assert (await db.fetchval('SELECT version FROM cases."case"')) == 8

    async def test_disallowed_action_is_409_with_allowed(self, cases_client, worker, open_case, act, db):
        case = await open_case(worker)
        r = await cases_client.post(f"/v1/cases/{case['id']}/evaluate", headers=worker)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["current_status"] == "intake" and r.json()["allowed_actions"] == ["assess", "close"]
        await act(worker, case["id"], "close", reason="client_withdrew")
        r = await cases_client.post(f"/v1/cases/{case['id']}/assess", headers=worker)
        assert r.status_code == 409 and set(r.json()["allowed_actions"]) == {"follow-up", "reopen"}
        assert await db.fetchval("SELECT count(*) FROM cases.case_event") == 2

    async def test_early_closure_needs_another_reason(self, cases_client, worker, open_case, act):
        case = await open_case(worker)
        await act(worker, case["id"], "assess")
        r = await cases_client.post(f"/v1/cases/{case['id']}/close", headers=worker, json={"reason": "completed"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        r = await cases_client.post(f"/v1/cases/{case['id']}/close", headers=worker, json={"reason": "bored"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        r = await cases_client.post(f"/v1/cases/{case['id']}/close", headers=worker, json={})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        closed = await act(worker, case["id"], "close", reason="referred")
        assert closed["close_reason"] == "referred"

    async def test_dates_of_steps(self, cases_client, worker, open_case, today):
        case = await open_case(worker, opened_on=(today - timedelta(days=3)).isoformat())
        r = await cases_client.post(f"/v1/cases/{case['id']}/assess", headers=worker,
                                    json={"on": (today - timedelta(days=5)).isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "on"
        r = await cases_client.post(f"/v1/cases/{case['id']}/assess", headers=worker,
                                    json={"on": (today + timedelta(days=1)).isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "on"

    async def test_stale_if_match_on_action(self, cases_client, worker, open_case):
        case = await open_case(worker)
        r = await cases_client.post(f"/v1/cases/{case['id']}/assess", headers=with_etag(worker, '"5"'))
        assert r.status_code == 412

    async def test_who_may_act(self, cases_client, worker, supervisor, sibling, official, open_case):
        case = await open_case(worker)
        url = f"/v1/cases/{case['id']}/assess"
        assert (await cases_client.post(url, headers=supervisor)).status_code == 403
        assert (await cases_client.post(url, headers=sibling)).status_code == 404
        assert (await cases_client.post(url, headers=official)).status_code == 404


class TestGetCase:
    async def test_scope(self, cases_client, worker, head, supervisor, city_head, sibling, official, token_for,
                         open_case):
        case = await open_case(worker)
        url = f"/v1/cases/{case['id']}"
        for headers in (worker, head, supervisor, city_head):
            r = await cases_client.get(url, headers=headers)
            assert r.status_code == 200 and r.json()["id"] == case["id"] and r.headers["etag"] == '"1"'
        for headers in (sibling, official, token_for("volunteer", 2, "/1/2/")):
            r = await cases_client.get(url, headers=headers)
            assert r.status_code == 404
            assert r.json()["status"] == 404
        for sub in ("events", "assessments", "service-records"):
            assert (await cases_client.get(f"{url}/{sub}", headers=sibling)).status_code == 404

    async def test_same_body_as_written(self, cases_client, worker, open_case, act, make_project, db):
        await make_project("p-1")
        case = await open_case(worker, presenting_problem="独居", risk_level="high", project_id="p-1")
        closed = await act(worker, case["id"], "close", reason="client_withdrew")
        r = await cases_client.get(f"/v1/cases/{case['id']}", headers=worker)
        # updated_at is the stored one: the action's answer shows the value before its own UPDATE.
        stored = await db.fetchval('SELECT updated_at FROM cases."case" WHERE id = $1', case["id"])
        assert r.json() == {**closed, "updated_at": stored.isoformat().replace("+00:00", "Z")}
        assert r.headers["etag"] == f'"{closed["version"]}"'
        await db.execute('UPDATE cases."case" SET deleted_at = now() WHERE id = $1', case["id"])
        r = await cases_client.get(f"/v1/cases/{case['id']}", headers=worker)
        assert r.status_code == 404 and r.json()["type"].endswith("case-not-found")


class TestUpdateCase:
    async def test_if_match(self, cases_client, worker, worker2, open_case, db):
        case = await open_case(worker)
        url = f"/v1/cases/{case['id']}"
        assert (await cases_client.patch(url, json={"risk_level": "critical"}, headers=worker)).status_code == 428
        r = await cases_client.patch(url, json={"risk_level": "critical", "worker_id": "w2b"},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["risk_level"] == "critical" and r.headers["etag"] == '"2"'
        stale = await cases_client.patch(url, json={"title": "y"}, headers=with_etag(worker2, '"1"'))
        assert stale.status_code == 412
        seen = (await cases_client.get(url, headers=worker2)).json()
        assert seen["worker_id"] == "w2b" and seen["version"] == 2
        r = await cases_client.patch(url, json={"status": "closed"}, headers=with_etag(worker, '"2"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
        assert await db.fetchval('SELECT status FROM cases."case"') == "intake"


class TestDeleteCase:
    async def test_soft_delete_takes_counts_back(self, cases_client, worker, open_case, act, db):
        case = await open_case(worker)
        cid = case["id"]
        r = await cases_client.post(f"/v1/cases/{cid}/service-records", headers=worker, json={
            "served_on": case["opened_on"], "mode": "phone", "content": "电话回访",
            "service_type": "needs_assessment"})
        assert r.status_code == 201
        await act(worker, cid, "close", reason="unreachable")
        version = (await cases_client.get(f"/v1/cases/{cid}", headers=worker)).headers["etag"]
        assert (await cases_client.delete(f"/v1/cases/{cid}", headers=with_etag(worker, version))).status_code == 204
        assert (await cases_client.get(f"/v1/cases/{cid}", headers=worker)).status_code == 404
        assert (await cases_client.get("/v1/cases", headers=worker)).json()["items"] == []
        assert await db.fetchval("SELECT count(*) FROM cases.service_record WHERE deleted_at IS NULL") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.daily_stat WHERE value <> 0 "
                                 "AND metric <> 'beneficiaries.registered'") == 0


class TestListCases:
    async def test_filters_scope_and_pages(self, cases_client, worker, worker2, sibling, city_head, official,
                                           register, open_case, act, today):
        b = await register(worker, populations=["children"])
        older = await open_case(worker, b["id"], opened_on=(today - timedelta(days=10)).isoformat())
        mine = [await open_case(worker, b["id"]) for _ in range(3)]
        other = await open_case(worker2, b["id"], risk_level="high")
        await act(worker, mine[0]["id"], "assess")
        theirs = await open_case(sibling)

        async def ids(headers, **params):
            r = await cases_client.get("/v1/cases", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return [c["id"] for c in r.json()["items"]]

        assert set(await ids(worker)) == {older["id"], other["id"], *(c["id"] for c in mine)}
        assert await ids(sibling) == [theirs["id"]]
        assert len(await ids(city_head)) == 6
        assert await ids(worker, status="assessment") == [mine[0]["id"]]
        assert await ids(worker, worker_id="w2b") == [other["id"]]
        assert await ids(worker, risk_level="high") == [other["id"]]
        assert await ids(worker, to=(today - timedelta(days=1)).isoformat()) == [older["id"]]
        assert len(await ids(city_head, population="children")) == 5
        assert await ids(city_head, station_id=3) == [theirs["id"]]
        assert (await ids(worker))[-1] == older["id"]
        r = await cases_client.get("/v1/cases", params={"status": "done"}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.status"
        assert (await cases_client.get("/v1/cases", headers=official)).status_code == 403

        seen, cursor = [], None
        while True:
            body = (await cases_client.get("/v1/cases", headers=worker,
                                           params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
            seen += [c["id"] for c in body["items"]]
            if not (cursor := body["next_cursor"]):
                break
        assert len(seen) == 5 and len(set(seen)) == 5
