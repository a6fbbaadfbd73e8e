"""The issue's walk-through, through the gateway as a social worker's app does it:
log in, register a beneficiary, open a case, log service records, walk it to closed,
and see its person-times in the casework stats; and what other readers see of it."""

from datetime import UTC, date, datetime, timedelta

from shared import clock
from tests.fixtures.people import ID_BORN_1980


class TestCaseworkThroughTheGateway:
    async def test_worker_walks_a_case_to_closed_and_sees_its_person_times(self, gateway, admin_headers, gateway_tree,
                                                                           db):
        township = gateway_tree["mengzhuiwan"]
        await gateway.user(admin_headers, "li.worker", "social_worker", township["id"])
        await gateway.user(admin_headers, "wang.sibling", "social_worker", gateway_tree["shuangqiao"]["id"])
        await gateway.user(admin_headers, "zhao.official", "official", gateway_tree["chenghua"]["id"])
        await gateway.app.state.pusher.sync_now()
        worker = await gateway.headers_for("li.worker")

        r = await gateway.post("/v1/beneficiaries", headers=worker, json={
            "name": "张桂芳", "gender": "female", "birth_on": "1980-01-01", "id_number": ID_BORN_1980,
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
        assert ID_BORN_1980 not in " ".join(str(v) for v in row.values())


class TestAtTheDayEdge:
    """00:30 in Shanghai is 16:30 UTC the day before (and here the month before): the README's
    walkthrough, run then, dates everything by the platform's day, not by UTC's."""

    async def test_the_walkthrough_at_half_past_midnight_in_shanghai(self, gateway, admin_headers, gateway_tree,
                                                                     monkeypatch):
        instant = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
        monkeypatch.setattr(clock, "now", lambda: instant)
        platform_today, utc_today = date(2026, 12, 1), date(2026, 11, 30)
        assert clock.today() == platform_today

        await gateway.user(admin_headers, "wang.li", "social_worker", gateway_tree["mengzhuiwan"]["id"])
        await gateway.app.state.pusher.sync_now()
        worker = await gateway.headers_for("wang.li")
        r = await gateway.post("/v1/beneficiaries", headers=worker, json={
            "name": "张秀英", "gender": "female", "birth_on": "1948-03-02", "populations": ["elderly"]})
        assert r.status_code == 201, r.text
        r = await gateway.post("/v1/cases", headers=worker, json={"beneficiary_id": r.json()["id"],
                                                                   "title": "独居老人居家安全"})
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["opened_on"] == platform_today.isoformat()

        # The walkthrough's home visit, without a date: the platform's today.
        visit = {"mode": "home_visit", "duration_minutes": 60, "content": "入户探访，评估居家安全",
                 "service_type": "elder_child_care", "person_times": 1}
        r = await gateway.post(f"/v1/cases/{case['id']}/service-records", headers=worker, json=visit)
        assert r.status_code == 201, r.text
        assert r.json()["served_on"] == platform_today.isoformat()
        # Dated by a shell in UTC (`date +%F`) it would be the day before the case opened.
        r = await gateway.post(f"/v1/cases/{case['id']}/service-records", headers=worker,
                               json={**visit, "served_on": utc_today.isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "before_opened", r.text

        for step in ("assess", "plan", "intervene", "evaluate"):
            assert (await gateway.post(f"/v1/cases/{case['id']}/{step}", headers=worker, json={})).status_code == 200
        r = await gateway.post(f"/v1/cases/{case['id']}/close", headers=worker, json={"reason": "completed"})
        assert r.status_code == 200 and r.json()["status"] == "closed"

        # Step 7's month so far, as the README computes it in the platform's zone: this month is December.
        r = await gateway.get("/v1/cases/stats", headers=worker, params={"from": "2026-12-01", "to": "2026-12-01"})
        assert r.status_code == 200, r.text
        totals = {row["metric"]: row["value"] for row in r.json()["rows"] if row.get("population") is None}
        assert totals["person_times.casework"] == 1
        assert totals["cases.new"] == 1 and totals["cases.closed"] == 1
        # The dashboard's default period ends on the platform's today too.
        r = await gateway.get("/v1/stats/summary", headers=worker)
        assert r.json()["filters"]["to"] == platform_today.isoformat(), r.json()["filters"]
