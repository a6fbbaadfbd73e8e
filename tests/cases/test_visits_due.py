"""Visit rules per roster population, inherited down the station tree and overridable, and the due
lists they make: a worker's and a station's, most overdue first, checked against a ledger of the
visits and rules the test made."""

from datetime import timedelta

from tests.cases.test_rosters import HEADER, upload
from tests.fixtures.calls import with_etag
from tests.fixtures.people import id_number
from tests.volunteers.test_import import as_csv

A, B, C = id_number("51010419400101123"), id_number("51010419450202234"), id_number("51010419500303345")


def expected_due(ledger: dict, today, within_days: int) -> list[tuple[str, str, int]]:
    """(name, due_on, overdue days) from the ledger: per person, the earliest due of their rosters."""
    out = {}
    for (name, _population), (joined, every, modes) in ledger["members"].items():
        visits = [on for who, on, mode in ledger["visits"] if who == name and mode in modes]
        due_on = (max(visits) if visits else joined) + timedelta(days=every)
        if due_on <= today + timedelta(days=within_days) and (name not in out or due_on < out[name]):
            out[name] = due_on
    return sorted(((n, d.isoformat(), max(0, (today - d).days)) for n, d in out.items()), key=lambda t: (t[1], t[0]))


def shown(answer: dict) -> list[tuple[str, str, int]]:
    return [(i["name"], i["due_on"], i["overdue_days"]) for i in answer["items"]]


class TestVisitsDue:
    async def test_rules_inherited_overridden_and_the_due_lists(self, cases_client, worker, head, room_worker,
                                                                sibling, official, db, today, tree):
        listed = today - timedelta(days=60)
        roster = [HEADER, ["甲", A, "tekun", "Station 4", None, None], ["乙", B, "elderly_alone", None, None, None],
                  ["丙", C, "dibao", None, None, None]]
        r = await upload(cases_client, worker, as_csv(roster), listed_on=listed.isoformat())
        assert r.status_code == 201, r.text
        ids = {c["row"]: c["beneficiary_id"] for c in r.json()["changes"]}
        person = {"甲": ids[2], "乙": ids[3], "丙": ids[4]}
        every_mode = ["home_visit", "phone", "video"]
        ledger = {"members": {("甲", "tekun"): (listed, 30, ["home_visit", "phone"]),
                              ("乙", "elderly_alone"): (listed, 30, every_mode),
                              ("丙", "dibao"): (listed, 90, ["home_visit", "phone"])},
                  "visits": []}
        # 乙 is assigned to the worker: her own list.
        b = (await cases_client.get(f"/v1/beneficiaries/{person['乙']}", headers=worker)).json()
        r = await cases_client.patch(f"/v1/beneficiaries/{person['乙']}", json={"worker_id": "w2"},
                                     headers=with_etag(worker, f'"{b["version"]}"'))
        assert r.status_code == 200, r.text
        for name, days, mode in (("甲", 10, "video"), ("乙", 5, "phone"), ("乙", 40, "home_visit")):
            on = today - timedelta(days=days)
            r = await cases_client.post(f"/v1/beneficiaries/{person[name]}/visits", headers=worker,
                                        json={"visited_on": on.isoformat(), "mode": mode})
            assert r.status_code == 201, r.text
            ledger["visits"].append((name, on, mode))

        async def station_list(headers, **params):
            r = await cases_client.get("/v1/rosters/visits-due", headers=headers, params=params)
            assert r.status_code == 200, r.text
            return r.json()

        for within in (0, 7, 30, 60):
            got = await station_list(worker, within_days=within)
            assert shown(got) == expected_due(ledger, today, within), within
            assert got["total"] == len(got["items"])
        # A video call does not count for the tekun roster: 甲 is overdue since 30 days after joining.
        assert shown(await station_list(worker, within_days=0)) == [("甲", (listed + timedelta(days=30)).isoformat(),
                                                                      30)]
        mine = (await cases_client.get("/v1/caseload/visits-due", headers=worker, params={"within_days": 30})).json()
        assert [i["name"] for i in mine["items"]] == ["乙"]
        assert mine["items"][0]["last_visited_on"] == (today - timedelta(days=5)).isoformat()

        # The village room sets its own tekun rule: weekly, and a video call counts.
        r = await cases_client.post("/v1/visit-rules", headers=head, json={
            "station_id": 4, "population": "tekun", "every_days": 7, "modes": ["video"]})
        assert r.status_code == 201, r.text
        override = r.json()
        ledger["members"][("甲", "tekun")] = (listed, 7, ["video"])
        assert shown(await station_list(worker, within_days=0)) == expected_due(ledger, today, 0) == [
            ("甲", (today - timedelta(days=3)).isoformat(), 3)]
        at_room = (await cases_client.get("/v1/visit-rules", headers=room_worker)).json()
        tekun = next(i for i in at_room["items"] if i["population"] == "tekun")
        assert (tekun["station_id"], tekun["every_days"], tekun["modes"]) == (4, 7, ["video"])
        at_township = (await cases_client.get("/v1/visit-rules", headers=worker)).json()
        tekun = next(i for i in at_township["items"] if i["population"] == "tekun")
        assert tekun["station_id"] is None and tekun["every_days"] == 30 and tekun["source"]
        elders = next(i for i in at_township["items"] if i["population"] == "elderly_alone")
        assert "探访关爱" in elders["source"]
        # Setting it again changes it; removing it restores the rule above; the default stays.
        r = await cases_client.post("/v1/visit-rules", headers=head, json={
            "station_id": 4, "population": "tekun", "every_days": 14, "modes": ["video"]})
        assert r.status_code == 200 and r.json()["id"] == override["id"] and r.json()["version"] == 2
        assert (await cases_client.delete(f"/v1/visit-rules/{override['id']}", headers=head)).status_code == 204
        ledger["members"][("甲", "tekun")] = (listed, 30, ["home_visit", "phone"])
        assert shown(await station_list(worker, within_days=60)) == expected_due(ledger, today, 60)
        assert (await cases_client.delete(f"/v1/visit-rules/{tekun['id']}", headers=head)).status_code == 409

        # Scope: the village room sees its own person only; another township and officials see nobody.
        assert [i["name"] for i in (await station_list(room_worker, within_days=60))["items"]] == ["甲"]
        assert (await station_list(sibling, within_days=60))["items"] == []
        r = await cases_client.get("/v1/rosters/visits-due", headers=sibling, params={"station_id": 2})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "station_id"
        assert (await cases_client.get("/v1/rosters/visits-due", headers=official)).status_code == 403
        assert (await cases_client.get("/v1/caseload/visits-due", headers=official)).status_code == 403

    async def test_bad_rules_name_the_field(self, cases_client, head, db, tree):
        for body, field in (({"population": "tekun", "every_days": 0, "modes": ["phone"]}, "every_days"),
                            ({"population": "tekun", "every_days": 7, "modes": []}, "modes"),
                            ({"population": "tekun", "every_days": 7, "modes": ["office"]}, "modes"),
                            ({"population": "martians", "every_days": 7, "modes": ["phone"]}, "population"),
                            ({"population": "tekun", "every_days": 7, "modes": ["phone"], "station_id": 3},
                             "station_id")):
            r = await cases_client.post("/v1/visit-rules", headers=head, json=body)
            assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith(field), (body, r.text)
        assert await db.fetchval("SELECT count(*) FROM cases.visit_rule WHERE station_path IS NOT NULL") == 0
