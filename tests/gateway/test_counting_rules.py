"""The counting rules of docs/counting.md, each at its edge, through the gateway on the real services.

- Populations are taken when a record is made: a person whose populations change between a
  casework contact and a group session counts under the old ones for what came before and the
  new ones after, in casework and in the projects service alike; a case under those at its
  opening; beneficiaries.registered under the current ones; groups and sessions under the
  group's target population.
- Which figures are split by population: activities, volunteer figures and the yuan linked at
  activities are not (they have no person to take populations from).
- A deleted beneficiary's earlier group and activity attendance still counts; the registration
  does not.
- A station outside the caller's scope answers 404 on every figures endpoint.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock
from tests.fixtures.gateway import users
from tests.fixtures.people import ID_BORN_1990
from tests.gateway.test_stats import get_ok


@pytest.fixture
async def changing(gateway, admin_headers, gateway_tree) -> dict:
    """P is elderly when she is first served (casework, an activity), then dibao and disabled when
    served again (casework, a group session); Q, a left-behind child, attends the activity."""
    ids = {k: s["id"] for k, s in gateway_tree.items()}
    h = await users(gateway, admin_headers, gateway_tree, ("county.head", "station_head", "chenghua"),
                    ("meng.worker", "social_worker", "mengzhuiwan"), ("county.official", "official", "chenghua"))
    head, worker = h["county.head"], h["meng.worker"]
    today = clock.today()
    a, b = today - timedelta(days=10), today - timedelta(days=2)

    async def post(headers, path, body, expect=201):
        r = await gateway.post(path, headers=headers, json=body)
        assert r.status_code == expect, (path, r.text)
        return r.json()

    p = await post(worker, "/v1/beneficiaries", {"name": "张桂芳", "populations": ["elderly"]})
    q = await post(worker, "/v1/beneficiaries", {"name": "小明", "populations": ["child_left_behind"]})
    case = await post(worker, "/v1/cases", {"beneficiary_id": p["id"], "title": "个案", "opened_on": a.isoformat()})
    record = {"mode": "home_visit", "content": "入户探访", "service_type": "elder_child_care", "person_times": 1}
    first = await post(worker, f"/v1/cases/{case['id']}/service-records", {**record, "served_on": a.isoformat(),
                                                                          "resources_yuan": "50"})
    project = await post(head, "/v1/projects", {
        "name": "项目", "purchaser": "区民政局", "operator": "好邻", "station_id": ids["mengzhuiwan"],
        "starts_on": (today - timedelta(days=30)).isoformat(), "ends_on": (today + timedelta(days=30)).isoformat()})
    await post(worker, "/v1/activities", {
        "project_id": project["id"], "title": "重阳节活动", "held_on": a.isoformat(), "anonymous_count": 3,
        "resources_yuan": "200", "attendees": [{"beneficiary_id": p["id"]}, {"beneficiary_id": q["id"]}]})

    r = await gateway.patch(f"/v1/beneficiaries/{p['id']}", headers={**worker, "If-Match": f'"{p["version"]}"'},
                            json={"populations": ["dibao", "disabled"]})
    assert r.status_code == 200, r.text
    await post(worker, f"/v1/cases/{case['id']}/service-records", {**record, "served_on": b.isoformat()})
    # The earlier contact, edited after the change, keeps the populations it was made with.
    r = await gateway.patch(f"/v1/cases/{case['id']}/service-records/{first['id']}",
                            headers={**worker, "If-Match": f'"{first["version"]}"'}, json={"person_times": 2})
    assert r.status_code == 200, r.text
    group = await post(worker, "/v1/groups", {"project_id": project["id"], "title": "长者小组",
                                              "target_population": "elderly", "starts_on": a.isoformat(),
                                              "members": [p["id"]]})
    await post(worker, f"/v1/groups/{group['id']}/sessions", {
        "held_on": b.isoformat(), "anonymous_count": 2, "attendees": [{"beneficiary_id": p["id"]}]})
    volunteer = await post(worker, "/v1/volunteers", {"name": "张志愿", "id_number": ID_BORN_1990})
    await post(worker, "/v1/volunteer-hours", {"volunteer_id": volunteer["id"], "served_on": b.isoformat(),
                                               "hours": "2", "content": "助老送餐"})
    return {"ids": ids, "h": h, "a": a, "b": b, "today": today, "p": p, "q": q, "case": case}


def split(figures: dict, name: str) -> tuple:
    return figures[name]["value"], figures[name]["by_population"]


class TestPopulationsAreTakenWhenTheRecordIsMade:
    async def test_a_person_whose_populations_change_between_two_services(self, gateway, changing):
        c = changing
        body = await get_ok(gateway, "/v1/stats/summary", c["h"]["county.official"],
                            station_id=c["ids"]["chenghua"], **{"from": c["a"], "to": c["today"]})
        f = body["figures"]
        # Casework: the contact on day a as elderly (2 person-times since its edit), on day b as dibao and disabled.
        assert split(f, "person_times.casework") == (3, {"elderly": 2, "dibao": 1, "disabled": 1})
        # Projects: the activity on day a as elderly (the child as a left-behind child), the session on b as the new.
        assert split(f, "person_times.community") == (5, {"elderly": 1, "child_left_behind": 1})
        assert split(f, "person_times.group") == (3, {"dibao": 1, "disabled": 1})
        # One person, under every population she was served in; the child once.
        assert split(f, "persons") == (2, {"elderly": 1, "dibao": 1, "disabled": 1, "child_left_behind": 1})
        # The case: under the populations at its opening.
        assert split(f, "cases.new") == (1, {"elderly": 1}) and split(f, "cases.open") == (1, {"elderly": 1})
        # Registrations: under the populations people have now.
        assert split(f, "beneficiaries.registered") == (2, {"dibao": 1, "disabled": 1, "child_left_behind": 1})
        # Groups and sessions: under the group's target population, whoever attends.
        assert split(f, "groups") == (1, {"elderly": 1}) and split(f, "group_sessions") == (1, {"elderly": 1})

    async def test_figures_without_a_population_split(self, gateway, changing):
        """Activities (events), volunteer figures and the yuan linked at activities have no person
        to take populations from; the yuan linked in casework follows its client."""
        c = changing
        f = (await get_ok(gateway, "/v1/stats/summary", c["h"]["county.official"], station_id=c["ids"]["chenghua"],
                          **{"from": c["a"], "to": c["today"]}))["figures"]
        for name in ("activities", "volunteers.registered", "volunteers.active", "volunteer.hours",
                     "volunteer.person_times"):
            assert f[name]["value"] and f[name]["by_population"] == {}, name
        assert split(f, "resources.linked_yuan") == (250, {"elderly": 50})
        body = await get_ok(gateway, "/v1/stats/timeseries", c["h"]["county.official"], metric="volunteer.hours",
                            interval="month", by="population", station_id=c["ids"]["chenghua"],
                            **{"from": c["a"], "to": c["today"]})
        assert [s["population"] for s in body["series"]] == [None]


class TestADeletedBeneficiary:
    async def test_earlier_attendance_still_counts_the_registration_does_not(self, gateway, gateway_factory,
                                                                             changing):
        c = changing
        official = c["h"]["county.official"]
        params = {"station_id": c["ids"]["chenghua"], "from": c["a"], "to": c["today"]}
        uncached = await gateway_factory(stats_cache_s=0, stats_stale_s=0)
        before = (await get_ok(uncached, "/v1/stats/summary", official, **params))["figures"]
        r = await gateway.delete(f"/v1/beneficiaries/{c['q']['id']}",
                                 headers={**c["h"]["meng.worker"], "If-Match": f'"{c["q"]["version"]}"'})
        assert r.status_code == 204, r.text
        after = (await get_ok(uncached, "/v1/stats/summary", official, **params))["figures"]
        assert split(after, "beneficiaries.registered") == (1, {"dibao": 1, "disabled": 1})
        # The activity was held and the child was there: its person-time and the person stay.
        for name in ("person_times.community", "persons", "person_times"):
            assert split(after, name) == split(before, name), name
        assert after["persons"]["by_population"]["child_left_behind"] == 1


class TestOutOfScopeIs404Everywhere:
    async def test_every_figures_endpoint(self, gateway, changing, gateway_tree):
        c = changing
        worker = c["h"]["meng.worker"]
        window = {"from": c["a"].isoformat(), "to": c["today"].isoformat()}
        for station in (gateway_tree["shuangqiao"]["id"], gateway_tree["chenghua"]["id"], 999_999):
            for path, extra in (("/v1/stats/summary", {}), ("/v1/stats/timeseries", {"metric": "persons"}),
                                ("/v1/stats/breakdown", {"metric": "persons"}), ("/v1/cases/stats", {}),
                                ("/v1/projects/stats", {}), ("/v1/volunteers/stats", {})):
                r = await gateway.get(path, headers=worker, params={"station_id": station, **window, **extra})
                assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", (
                    path, station, r.text)
        # Her own station, named or not, and one below it, answer.
        for station in (None, gateway_tree["mengzhuiwan"]["id"], gateway_tree["heping"]["id"]):
            params = {**window, **({"station_id": station} if station else {})}
            for path in ("/v1/cases/stats", "/v1/projects/stats", "/v1/volunteers/stats", "/v1/stats/summary"):
                assert (await gateway.get(path, headers=worker, params=params)).status_code == 200, (path, station)


class TestVisitsAreAMethodOfTheirOwn:
    async def test_a_visited_person_also_in_a_group_and_at_an_activity_is_one_person(self, gateway, changing):
        c = changing
        worker, official = c["h"]["meng.worker"], c["h"]["county.official"]
        period = {"station_id": c["ids"]["chenghua"], "from": c["a"], "to": c["today"]}
        r = await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "刘独居", "populations": ["tekun"]})
        alone = r.json()
        for who, on, mode in ((c["p"], c["b"], "home_visit"), (c["p"], c["today"], "phone"),
                              (alone, c["today"], "video")):
            r = await gateway.post(f"/v1/beneficiaries/{who['id']}/visits", headers=worker,
                                   json={"visited_on": on.isoformat(), "mode": mode, "health": "fair"})
            assert r.status_code == 201, r.text
        f = (await get_ok(gateway, "/v1/stats/summary", official, **period))["figures"]
        # Two visits of P, dibao and disabled by then, and one of a person served by nothing else.
        assert split(f, "person_times.visit") == (3, {"dibao": 2, "disabled": 2, "tekun": 1})
        parts = ("person_times.casework", "person_times.group", "person_times.community", "person_times.visit")
        # The fixture's casework 3, group 3 and community 5, and the three visits.
        assert f["person_times"]["value"] == sum(f[p]["value"] for p in parts) == 3 + 3 + 5 + 3
        # P was served by casework, a group, an activity and visits: still one person; Q; the one only visited.
        assert split(f, "persons") == (
            3, {"elderly": 1, "dibao": 1, "disabled": 1, "child_left_behind": 1, "tekun": 1})
        # Officials see the numbers, and no visit.
        r = await gateway.get(f"/v1/beneficiaries/{c['p']['id']}/visits", headers=official)
        assert r.status_code in (403, 404)
