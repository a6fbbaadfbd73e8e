"""A worker's own view: open cases with their next due item, and what falls due soon."""

from datetime import timedelta


class TestCaseload:
    async def test_my_open_cases_with_next_due(self, cases_client, worker, worker2, official, register, open_case,
                                               act, today):
        b = await register(worker)
        busy = await open_case(worker, b["id"])
        quiet = await open_case(worker, b["id"])
        closed = await open_case(worker, b["id"])
        await act(worker, closed["id"], "close", reason="client_withdrew")
        following = await open_case(worker, b["id"])
        await act(worker, following["id"], "close", reason="unreachable")
        await act(worker, following["id"], "follow-up")
        await open_case(worker2, b["id"])
        soon, later = (today + timedelta(days=2)).isoformat(), (today + timedelta(days=20)).isoformat()
        await cases_client.post(f"/v1/cases/{busy['id']}/follow-ups", headers=worker, json={"due_on": later})
        await cases_client.post(f"/v1/cases/{busy['id']}/plans", headers=worker, json={
            "planned_on": today.isoformat(), "review_on": soon, "goals": []})

        r = await cases_client.get("/v1/caseload", headers=worker)
        assert r.status_code == 200
        items = {i["case"]["id"]: i for i in r.json()["items"]}
        assert set(items) == {busy["id"], quiet["id"], following["id"]}
        assert items[busy["id"]]["next_due"]["kind"] == "plan_review"
        assert items[busy["id"]]["next_due"]["due_on"] == soon
        assert items[quiet["id"]]["next_due"] is None
        assert (await cases_client.get("/v1/caseload", headers=official)).status_code == 403


class TestDue:
    async def test_due_within_days_sorted_with_overdue(self, cases_client, worker, worker2, open_case, today):
        case = await open_case(worker, opened_on=(today - timedelta(days=30)).isoformat())
        other = await open_case(worker2)
        day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
        fu = f"/v1/cases/{case['id']}/follow-ups"
        overdue = (await cases_client.post(fu, headers=worker,
                                           json={"due_on": day(-3), "method": "phone"})).json()
        await cases_client.post(fu, headers=worker, json={"due_on": day(-5), "done_on": day(-1)})
        await cases_client.post(fu, headers=worker, json={"due_on": day(30)})
        await cases_client.post(f"/v1/cases/{other['id']}/follow-ups", headers=worker2, json={"due_on": day(1)})
        plan = (await cases_client.post(f"/v1/cases/{case['id']}/plans", headers=worker, json={
            "planned_on": day(-20), "review_on": day(6), "goals": [
                {"goal": "恢复行走", "due_on": day(2)},
                {"goal": "已完成", "due_on": day(1), "status": "achieved"},
                {"goal": "远期", "due_on": day(40)}]})).json()
        await cases_client.post(f"/v1/cases/{case['id']}/plans", headers=worker, json={
            "planned_on": day(-20), "review_on": day(1), "status": "superseded"})

        r = await cases_client.get("/v1/caseload/due", headers=worker)
        assert r.status_code == 200
        items = r.json()["items"]
        assert [(i["kind"], i["due_on"], i["overdue"]) for i in items] == [
            ("follow_up", day(-3), True), ("goal", day(2), False), ("plan_review", day(6), False)]
        assert items[0]["record_id"] == overdue["id"] and items[1]["label"] == "恢复行走"
        assert items[2]["record_id"] == plan["id"]
        wide = (await cases_client.get("/v1/caseload/due", headers=worker, params={"within_days": 45})).json()
        assert len(wide["items"]) == 5
        r = await cases_client.get("/v1/caseload/due", headers=worker, params={"within_days": -1})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.within_days"
