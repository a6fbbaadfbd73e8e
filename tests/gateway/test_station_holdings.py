"""A station that holds records is not deleted; the breakdown and the monthly report always add up.

Deleting a village that still held a case, a service record, an activity and volunteer hours
left its records counting in the township's summary and total row while no row showed them:
the breakdown's total dropped them and the report's rows no longer added up to its total. The
gateway now asks every service what the station holds (shared.contracts.holdings) and refuses
while anything is held, naming it and offering the move; a service that does not answer keeps
the station (503). Records under a station deleted before this rule still count, in a row of
their own marked deleted, so the rows (children and own) always add up to the whole subtree.
"""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
from openpyxl import load_workbook

from shared import clock
from tests.fixtures.gateway import users
from tests.fixtures.people import ID_BORN_1990
from tests.gateway import test_stats
from tests.gateway.test_stats import DISTINCT, FIGURES, Down, get_ok

world = test_stats.world  # the stats tests' dataset, as a fixture of this module too

SUMMED = [f for f in FIGURES if f not in DISTINCT]


async def village_with_records(gateway, admin_headers, gateway_tree) -> dict:
    """Heping holds a beneficiary with an open case and a service record, an activity of a county
    project, and a volunteer with a shift of hours."""
    heping = gateway_tree["heping"]["id"]
    # No account is bound to the village itself: that alone would keep it.
    h = await users(gateway, admin_headers, gateway_tree, ("county.worker", "social_worker", "chenghua"),
                    ("county.head", "station_head", "chenghua"))
    worker, head = h["county.worker"], h["county.head"]
    today = clock.today()

    async def post(headers, path, body, expect=201):
        r = await gateway.post(path, headers=headers, json=body)
        assert r.status_code == expect, (path, r.text)
        return r.json()

    person = await post(worker, "/v1/beneficiaries", {"name": "张桂芳", "populations": ["elderly"],
                                                   "station_id": heping})
    case = await post(worker, "/v1/cases", {"beneficiary_id": person["id"], "title": "独居老人照护",
                                           "station_id": heping})
    await post(worker, f"/v1/cases/{case['id']}/service-records", {
        "served_on": today.isoformat(), "mode": "home_visit", "content": "入户探访",
        "service_type": "elder_child_care", "person_times": 1})
    project = await post(head, "/v1/projects", {
        "name": "项目", "purchaser": "区民政局", "operator": "好邻", "station_id": gateway_tree["chenghua"]["id"],
        "starts_on": (today - timedelta(days=30)).isoformat(), "ends_on": (today + timedelta(days=30)).isoformat()})
    await post(head, "/v1/activities", {"project_id": project["id"], "station_id": heping, "title": "社区活动",
                                        "held_on": today.isoformat(), "anonymous_count": 8})
    volunteer = await post(worker, "/v1/volunteers", {"name": "张志愿", "id_number": ID_BORN_1990, "station_id": heping})
    await post(worker, "/v1/volunteer-hours", {"volunteer_id": volunteer["id"], "served_on": today.isoformat(),
                                               "hours": "2", "content": "助老送餐", "station_id": heping})
    return {"case": case, "person": person, "worker": worker}


class TestDeletingAStationThatHoldsRecords:
    async def test_refused_naming_what_it_holds_and_offering_the_move(self, gateway, admin_headers, gateway_tree, db):
        made = await village_with_records(gateway, admin_headers, gateway_tree)
        heping, township = gateway_tree["heping"]["id"], gateway_tree["mengzhuiwan"]["id"]
        r = await gateway.delete(f"/v1/stations/{heping}", headers=admin_headers)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json", r.text
        problem = r.json()
        assert problem["type"].endswith("/station-not-empty")
        assert problem["holds"] == {
            "cases": {"records": {"beneficiary": 1, "case": 1, "case_event": 1, "service_record": 1},
                      "open_work": {"open_cases": 1}},
            "projects": {"records": {"activity": 1}, "open_work": {}},
            "volunteers": {"records": {"volunteer": 1, "service_hours": 1}, "open_work": {}},
        }
        assert problem["move"] == f"/v1/stations/{heping}/move"
        # Nothing changed: the village is live, its records count in its township's rows and total.
        assert await db.fetchval("SELECT deleted_at FROM gateway.station WHERE id = $1", heping) is None
        assert (await gateway.get(f"/v1/stations/{heping}", headers=admin_headers)).status_code == 200
        for metric, value in (("person_times", 9), ("activities", 1), ("volunteer.hours", 2), ("cases.open", 1)):
            body = await get_ok(gateway, "/v1/stats/breakdown", admin_headers, metric=metric, station_id=township)
            assert [r["value"] for r in body["rows"]] == [value] and body["total"] == {"value": value}, metric

        # Chinese for a Chinese reader; the machine fields stay.
        r = await gateway.delete(f"/v1/stations/{heping}", headers={**admin_headers, "Accept-Language": "zh-CN"})
        assert r.status_code == 409 and "转移" in r.json()["detail"] and r.json()["holds"] == problem["holds"]

    async def test_a_station_whose_records_are_all_deleted_is_deleted(self, gateway, admin_headers, gateway_tree, db):
        shuangqiao = gateway_tree["shuangqiao"]["id"]
        h = await users(gateway, admin_headers, gateway_tree, ("county.worker", "social_worker", "chenghua"))
        r = await gateway.post("/v1/beneficiaries", headers=h["county.worker"],
                               json={"name": "李四", "station_id": shuangqiao})
        assert r.status_code == 201, r.text
        person = r.json()
        r = await gateway.delete(f"/v1/stations/{shuangqiao}", headers=admin_headers)
        assert r.status_code == 409 and r.json()["holds"]["cases"]["records"] == {"beneficiary": 1}, r.text
        r = await gateway.delete(f"/v1/beneficiaries/{person['id']}",
                                 headers={**h["county.worker"], "If-Match": f'"{person["version"]}"'})
        assert r.status_code == 204, r.text
        r = await gateway.delete(f"/v1/stations/{shuangqiao}", headers=admin_headers)
        assert r.status_code == 204, r.text
        assert await db.fetchval("SELECT deleted_at FROM gateway.station WHERE id = $1", shuangqiao) is not None

    async def test_a_service_that_does_not_answer_keeps_the_station(self, gateway, admin_headers, gateway_tree, db):
        heping = gateway_tree["heping"]["id"]
        clients = gateway.app.state.upstreams._clients
        clients["volunteers"] = httpx.AsyncClient(base_url="http://volunteers", transport=Down())
        r = await gateway.delete(f"/v1/stations/{heping}", headers=admin_headers)
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["services"] == ["volunteers"] and "volunteers" in r.json()["detail"]
        assert await db.fetchval("SELECT deleted_at FROM gateway.station WHERE id = $1", heping) is None


async def tombstone(db, station_id: int) -> None:
    """A station deleted while it held records, as the gateway allowed before it asked the services."""
    await db.execute("UPDATE gateway.station SET deleted_at = now(), version = version + 1 WHERE id = $1", station_id)


class TestRowsAddUpToTheWholeSubtree:
    async def test_breakdown_of_a_township_whose_village_was_deleted_with_its_records(self, world, db):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        await tombstone(db, ids["heping"])
        for station in ("mengzhuiwan", "chenghua"):
            summary = await get_ok(gw, "/v1/stats/summary", official, station_id=ids[station],
                                   **{"from": frm, "to": to})
            for metric in FIGURES:
                body = await get_ok(gw, "/v1/stats/breakdown", official, metric=metric, station_id=ids[station],
                                    **{"from": frm, "to": to})
                # The total is the whole subtree: what the summary says.
                assert body["total"]["value"] == summary["figures"][metric]["value"], (station, metric)
                if metric in DISTINCT:
                    continue
                rows = sum(r["value"] for r in body["rows"]) + body["own"]["value"]
                assert rows == body["total"]["value"], (station, metric)
        # Heping's records show in a row of their own, marked deleted, under its old parent.
        body = await get_ok(gw, "/v1/stats/breakdown", official, metric="person_times", station_id=ids["mengzhuiwan"],
                            **{"from": frm, "to": to})
        heping = w.ledger.value("person_times", {ids["heping"]}, frm, to)
        assert heping and [(r["station"]["id"], r["station"].get("deleted"), r["value"]) for r in body["rows"]] == [
            (ids["heping"], True, heping)]
        assert body["total"]["value"] == w.ledger.value("person_times", w.ledger.subtree(ids["mengzhuiwan"]), frm, to)

    async def test_monthly_report_rows_add_up_to_its_total_row(self, world, db):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        await tombstone(db, ids["heping"])
        month = w.today.strftime("%Y-%m")
        r = await gw.get("/v1/reports/monthly.xlsx", headers=w.headers["county.head"],
                         params={"station_id": ids["mengzhuiwan"], "month": month, "lang": "en"})
        assert r.status_code == 200, r.text
        ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
        lines = list(ws.iter_rows(values_only=True))
        top = next(i for i, line in enumerate(lines) if len(line) > 1 and line[1] == "Tier")
        headings = list(lines[top])
        body = []
        for line in lines[top + 1:]:
            if line[0] is None:
                break
            body.append(dict(zip(headings, line, strict=True)))
        total = body[-1]
        parts = body[:-1]
        assert any("Heping" in str(p["Station"]) for p in parts), [p["Station"] for p in parts]
        for heading, value in total.items():
            # Distinct counts and a percentage do not add up over the rows.
            if heading in ("Station", "Tier", "Persons served", "Active volunteers", "Roster visit coverage (%)"):
                continue
            assert sum(p[heading] for p in parts) == value, heading
        assert total["Person-times"] > 0
