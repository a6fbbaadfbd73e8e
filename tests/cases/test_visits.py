"""Visits (探访): a light record of a person seen, without a case; counted as person_times.visit and in
persons, and one step from a visit that found a need to a case."""

from datetime import timedelta

from tests.cases.test_persons import members, person_numbers, persons
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag
from tests.fixtures.counting import internal_stats, rows_of


def visit_body(today, **fields) -> dict:
    return {"visited_on": today.isoformat(), "mode": "home_visit", "health": "poor", "safety": "at_risk",
            "living": "basic", "needs": ["meals", "medical"], "notes": "独居，腿脚不便，冰箱空了", **fields}


async def visit_figures(cases_client, service_headers, today, **query) -> dict:
    answer = await internal_stats(cases_client, service_headers, today, metrics=["person_times.visit"],
                                  group_by=["population"], **query)
    return rows_of(answer, "population")


class TestVisitLifecycle:
    async def test_record_read_change_remove(self, cases_client, worker, worker2, supervisor, sibling, official,
                                             admin_token, register, db, today):
        elder = await register(worker, populations=["elderly_alone"])
        base = f"/v1/beneficiaries/{elder['id']}/visits"
        r = await cases_client.post(base, json=visit_body(today), headers=worker)
        assert r.status_code == 201, r.text
        visit = r.json()
        url = f"{base}/{visit['id']}"
        assert r.headers["location"] == url and r.headers["etag"] == '"1"'
        assert visit["worker_id"] == "w2" and visit["needs"] == ["meals", "medical"]
        assert visit["populations"] == ["elderly_alone"] and visit["follow_up"] is False and visit["case_id"] is None

        for headers in (worker2, supervisor):
            got = await cases_client.get(url, headers=headers)
            assert got.status_code == 200 and got.json() == visit
        for headers in (sibling, official):
            assert (await cases_client.get(url, headers=headers)).status_code == 404
            assert (await cases_client.get(base, headers=headers)).status_code == 404
        # An administrator manages records but does not work with the person: the situation is withheld.
        shown = (await cases_client.get(url, headers=admin_token)).json()
        assert shown["notes"] is None and shown["health"] is None and shown["needs"] is None
        assert shown["mode"] == "home_visit"
        listed = (await cases_client.get(base, headers=worker2)).json()
        assert [v["id"] for v in listed["items"]] == [visit["id"]]

        # The situation and notes are sealed at rest.
        row = await db.fetchrow("SELECT notes, health, needs FROM cases.visit")
        assert "冰箱" not in row["notes"] and row["health"] != "poor" and "meals" not in row["needs"]

        change = {"mode": "phone", "needs": ["meals"]}
        assert (await cases_client.patch(url, json=change, headers=worker)).status_code == 428
        assert (await cases_client.patch(url, json=change, headers=with_etag(worker, '"9"'))).status_code == 412
        assert (await cases_client.patch(url, json=change, headers=with_etag(sibling, '"1"'))).status_code == 404
        r = await cases_client.patch(url, json=change, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["mode"] == "phone" and r.json()["needs"] == ["meals"], r.text
        r = await cases_client.patch(url, json={"mode": None}, headers=with_etag(worker, '"2"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"

        assert (await cases_client.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        assert (await cases_client.get(url, headers=worker)).status_code == 404
        row = await db.fetchrow("SELECT deleted_at, version FROM cases.visit")
        assert row["deleted_at"] is not None and row["version"] == 3
        actions = await db.fetch("SELECT action FROM cases.audit_log WHERE record_table = 'visit' ORDER BY id")
        assert [a["action"] for a in actions][:1] == ["create"] and "read" in {a["action"] for a in actions}

    async def test_client_id_replay(self, cases_client, worker, register, db, today):
        elder = await register(worker)
        other = await register(worker, name="李四")
        body = {**visit_body(today), "id": "tab-visit-1"}
        first = await cases_client.post(f"/v1/beneficiaries/{elder['id']}/visits", json=body, headers=worker)
        again = await cases_client.post(f"/v1/beneficiaries/{elder['id']}/visits", json=body, headers=worker)
        assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
        moved = await cases_client.post(f"/v1/beneficiaries/{other['id']}/visits", json=body, headers=worker)
        assert moved.status_code == 409
        assert await db.fetchval("SELECT count(*) FROM cases.visit") == 1

    async def test_bad_input_names_the_field_and_writes_nothing(self, cases_client, worker, register, db, today):
        elder = await register(worker)
        base = f"/v1/beneficiaries/{elder['id']}/visits"
        for change, field in (({"mode": "office"}, "mode"), ({"health": "so-so"}, "health"),
                              ({"safety": "ok"}, "safety"), ({"living": "palace"}, "living"),
                              ({"needs": ["cake"]}, "needs"), ({"visited_on": (today + timedelta(days=1)).isoformat()},
                                                              "visited_on"),
                              ({"notes": "x" * 10_001}, "notes"), ({"extra": 1}, "extra")):
            r = await cases_client.post(base, json=visit_body(today, **change), headers=worker)
            assert r.status_code == 422, (change, r.text)
            assert any(e["field"].startswith(field) for e in r.json()["errors"]), (change, r.text)
        assert await db.fetchval("SELECT count(*) FROM cases.visit") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.daily_stat WHERE metric = 'person_times.visit'") == 0

    async def test_unknown_or_out_of_scope_person(self, cases_client, worker, sibling, register, today):
        elder = await register(worker)
        for path, headers in ((f"/v1/beneficiaries/{elder['id']}/visits", sibling),
                              ("/v1/beneficiaries/nobody/visits", worker)):
            r = await cases_client.post(path, json=visit_body(today), headers=headers)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


class TestOpenCaseFromVisit:
    async def test_one_step_to_a_case(self, cases_client, worker, register, db, today):
        elder = await register(worker, populations=["elderly_alone"])
        base = f"/v1/beneficiaries/{elder['id']}/visits"
        visit = (await cases_client.post(base, json=visit_body(today, follow_up=True), headers=worker)).json()
        body = {"id": "case-from-visit", "title": "独居老人助餐需求", "risk_level": "medium"}
        r = await cases_client.post(f"{base}/{visit['id']}/open-case", json=body, headers=worker)
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["id"] == "case-from-visit" and case["beneficiary_id"] == elder["id"]
        assert case["status"] == "intake" and case["risk_level"] == "medium"
        got = (await cases_client.get(f"{base}/{visit['id']}", headers=worker)).json()
        assert got["case_id"] == case["id"] and got["follow_up"] is True and got["version"] == 2
        # A retry answers the same case; another case from the same visit is refused.
        again = await cases_client.post(f"{base}/{visit['id']}/open-case", json=body, headers=worker)
        assert again.status_code == 200 and again.json()["id"] == case["id"]
        other = await cases_client.post(f"{base}/{visit['id']}/open-case", json={"title": "另一个"}, headers=worker)
        assert other.status_code == 409
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 1

    async def test_bad_title_opens_nothing(self, cases_client, worker, register, db, today):
        elder = await register(worker)
        base = f"/v1/beneficiaries/{elder['id']}/visits"
        visit = (await cases_client.post(base, json=visit_body(today), headers=worker)).json()
        r = await cases_client.post(f"{base}/{visit['id']}/open-case", json={"title": ""}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0
        assert await db.fetchval("SELECT case_id FROM cases.visit") is None


class TestVisitCounting:
    async def test_person_times_and_persons_against_a_ledger(self, cases_client, service_headers, worker, sibling,
                                                             register, open_case, db, today):
        ledger = {"_all": 0, "elderly_alone": 0, "dibao": 0}
        elder = await register(worker, populations=["elderly_alone", "dibao"])
        child = await register(sibling, name="小明", populations=[])
        made = []
        for days, who, person in ((1, worker, elder), (5, worker, elder), (2, sibling, child)):
            r = await cases_client.post(f"/v1/beneficiaries/{person['id']}/visits", headers=who,
                                        json=visit_body(today - timedelta(days=days), mode="phone"))
            assert r.status_code == 201, r.text
            made.append(r.json())
            for code in ["_all", *person["populations"]]:
                ledger[code] += 1
        assert await visit_figures(cases_client, service_headers, today) == {(k,): v for k, v in ledger.items()}

        # The elder also has a case contact: still one person, whatever the method.
        case = await open_case(worker, elder["id"], opened_on=(today - timedelta(days=10)).isoformat())
        await service_record(cases_client, worker, case["id"], today - timedelta(days=1))
        groups = await persons(cases_client, service_headers, today)
        assert [g["count"] for g in groups] == [2]
        assert members(groups[0]) == await person_numbers(db, elder["id"], child["id"])

        # Moving a visit out of the range and removing another take their counts back.
        first = made[0]
        url = f"/v1/beneficiaries/{elder['id']}/visits/{first['id']}"
        r = await cases_client.patch(url, json={"visited_on": (today - timedelta(days=90)).isoformat()},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        r = await cases_client.delete(f"/v1/beneficiaries/{child['id']}/visits/{made[2]['id']}",
                                      headers=with_etag(sibling, '"1"'))
        assert r.status_code == 204
        ledger = {"_all": 1, "elderly_alone": 1, "dibao": 1}
        assert await visit_figures(cases_client, service_headers, today) == {(k,): v for k, v in ledger.items()}
        by_station = await internal_stats(cases_client, service_headers, today, metrics=["person_times.visit"],
                                          group_by=["station"])
        assert rows_of(by_station, "station") == {(2,): 1}
