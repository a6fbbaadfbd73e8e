"""The issue's walk-through, through the gateway as a social worker's app does it:
log in, register a beneficiary, open a case, log service records, walk it to closed,
and see its person-times in the casework stats; and what other readers see of it."""

from datetime import date, timedelta

from tests.cases.conftest import ID_A


class TestCaseworkThroughTheGateway:
    async def test_worker_walks_a_case_to_closed_and_sees_its_person_times(self, gateway, admin, tree, db):
        township = tree["mengzhuiwan"]
        await gateway.user(admin, "li.worker", "social_worker", township["id"])
        await gateway.user(admin, "wang.sibling", "social_worker", tree["shuangqiao"]["id"])
        await gateway.user(admin, "zhao.official", "official", tree["chenghua"]["id"])
        await gateway.app.state.pusher.sync_now()
        worker = await gateway.headers_for("li.worker")

        r = await gateway.post("/v1/beneficiaries", headers=worker, json={
            "name": "张桂芳", "gender": "female", "birth_on": "1980-01-01", "id_number": ID_A,
            "phone": "13800138000", "populations": ["elderly_alone"]})
        assert r.status_code == 201, r.text
        beneficiary = r.json()
        assert beneficiary["station_id"] == township["id"]

        served = date.today() - timedelta(days=1)
        r = await gateway.post("/v1/cases", headers=worker, json={
            "beneficiary_id": beneficiary["id"], "title": "独居老人生活照料", "risk_level": "medium",
            "opened_on": served.isoformat()})
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["status"] == "intake"

        for mode, person_times in (("home_visit", 1), ("phone", 2)):
            r = await gateway.post(f"/v1/cases/{case['id']}/service-records", headers=worker, json={
                "served_on": served.isoformat(), "mode": mode, "duration_minutes": 45,
                "content": "探访并评估生活自理情况", "service_type": "elder_child_care",
                "person_times": person_times})
            assert r.status_code == 201, r.text

        for action in ("assess", "plan", "intervene", "evaluate"):
            r = await gateway.post(f"/v1/cases/{case['id']}/{action}", headers=worker, json={})
            assert r.status_code == 200, (action, r.text)
        r = await gateway.post(f"/v1/cases/{case['id']}/close", headers=worker, json={"reason": "completed"})
        assert r.status_code == 200 and r.json()["status"] == "closed"
        r = await gateway.post(f"/v1/cases/{case['id']}/close", headers=worker, json={"reason": "completed"})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"

        window = {"from": served.isoformat(), "to": (date.today() + timedelta(days=1)).isoformat()}  # covers Shanghai today at any UTC hour
        r = await gateway.get("/v1/cases/stats", headers=worker, params=window)
        assert r.status_code == 200, r.text
        totals = {(row["metric"], row.get("population")): row["value"] for row in r.json()["rows"]}
        assert totals[("person_times.casework", None)] == 3
        assert totals[("cases.new", None)] == 1 and totals[("cases.closed", None)] == 1

        # A county official sees the same figures for the county, but no person.
        official = await gateway.headers_for("zhao.official")
        r = await gateway.get("/v1/cases/stats", headers=official, params=window)
        assert {(row["metric"], row["value"]) for row in r.json()["rows"]} >= {("person_times.casework", 3)}
        assert (await gateway.get(f"/v1/cases/{case['id']}", headers=official)).status_code == 404
        assert (await gateway.get("/v1/beneficiaries", headers=official)).status_code == 403

        # A worker of the sibling township cannot tell the case exists.
        sibling = await gateway.headers_for("wang.sibling")
        r = await gateway.get(f"/v1/cases/{case['id']}", headers=sibling)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await gateway.get("/v1/cases", headers=sibling)).json()["items"] == []

        stored = await db.fetchrow("SELECT status, station_path FROM cases.\"case\" WHERE id = $1", case["id"])
        assert stored["status"] == "closed" and stored["station_path"] == township["path"]
        # The ID number is stored encrypted: not in plain text anywhere in the row.
        row = await db.fetchrow("SELECT * FROM cases.beneficiary WHERE id = $1", beneficiary["id"])
        assert ID_A not in " ".join(str(v) for v in row.values())
