"""Visits on tablets: a village worker records visits offline; the push goes through the same rules
and counts as the REST API, and the pull serves them with the situation as the API answers it."""

from datetime import timedelta

import pytest

from tests.cases.test_sync import pull, push, stats, uid

pytestmark = pytest.mark.usefixtures("tree")


def tablet_visit(beneficiary_id, today, **fields) -> dict:
    return {"id": uid("v"), "beneficiary_id": beneficiary_id, "visited_on": (today - timedelta(days=1)).isoformat(),
            "mode": "home_visit", "health": "fair", "safety": "safe", "living": "basic", "needs": '["meals"]',
            "notes": "老人精神好", "follow_up": False, "worker_id": "w2", **fields}


class TestVisitsOnTablets:
    async def test_pushed_visits_count_and_come_back_in_pulls(self, cases_client, service_headers, db, worker,
                                                              register, today):
        elder = await register(worker, populations=["elderly_alone"])
        before = await stats(cases_client, service_headers, today, "person_times.visit")
        cursor, _, _ = await pull(cases_client, service_headers, db)
        first, second = tablet_visit(elder["id"], today), tablet_visit(elder["id"], today, mode="phone", needs="[]")
        await push(cases_client, service_headers, {"visits": {"created": [first, second]}}, since=cursor)
        # A retried push (the answer was lost) writes nothing more.
        await push(cases_client, service_headers, {"visits": {"created": [first, second]}}, since=cursor)
        after = await stats(cases_client, service_headers, today, "person_times.visit")
        assert after["person_times.visit"] - before["person_times.visit"] == 2
        got = (await cases_client.get(f"/v1/beneficiaries/{elder['id']}/visits/{first['id']}", headers=worker)).json()
        assert got["needs"] == ["meals"] and got["worker_id"] == "w2" and got["populations"] == ["elderly_alone"]
        assert got["station_id"] == 2

        cursor, rows, _ = await pull(cases_client, service_headers, db)
        served = rows["visits"][first["id"]]
        assert served["needs"] == '["meals"]' and served["follow_up"] is False and served["notes"] == "老人精神好"
        assert served["beneficiary_id"] == elder["id"] and served["station_id"] == 2

        # An update of the situation, and a delete that takes its count back.
        await push(cases_client, service_headers, {"visits": {
            "updated": [{**served, "health": "poor", "needs": '["meals","medical"]', "follow_up": True}],
            "deleted": [second["id"]]}}, since=cursor)
        got = (await cases_client.get(f"/v1/beneficiaries/{elder['id']}/visits/{first['id']}", headers=worker)).json()
        assert (got["health"], got["needs"], got["follow_up"], got["version"]) == (
            "poor", ["meals", "medical"], True, 2)
        final = await stats(cases_client, service_headers, today, "person_times.visit")
        assert final["person_times.visit"] - before["person_times.visit"] == 1
        _, _, deleted = await pull(cases_client, service_headers, db, since=cursor)
        assert deleted["visits"] == [second["id"]]

    async def test_bad_values_and_other_stations_are_refused(self, cases_client, service_headers, db, worker,
                                                             sibling, register, today):
        elder = await register(worker)
        stranger = await register(sibling, name="外站的人")
        problem = await push(cases_client, service_headers, {"visits": {"created": [
            tablet_visit(elder["id"], today, mode="office")]}}, expect=422)
        assert problem["errors"][0]["field"].endswith(".mode")
        visit = tablet_visit(stranger["id"], today)
        problem = await push(cases_client, service_headers, {"visits": {"created": [visit]}}, expect=403)
        assert problem["records"] == [{"table": "visits", "id": visit["id"]}]
        assert await db.fetchval("SELECT count(*) FROM cases.visit") == 0
