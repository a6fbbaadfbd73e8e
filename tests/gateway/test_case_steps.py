"""Open cases stay a recount of the cases' histories, whatever steps are taken on whatever dates.

A step (assess, close, reopen...) dated before the case's last step is refused (422 naming `on`):
a closure back-dated behind a later reopening would otherwise take the case out of the open count
on days it was already out, and `cases.open` went negative. The property test takes random steps
on random dates through the gateway and recounts, from each live case's history as the API
serves it, how many cases were open at the end of every day; the summary and the day-by-day
timeseries must say the same at the case's station and each of its ancestors, and no figure of
either is ever negative.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.cases.service.cases import allowed_actions
from shared import clock
from tests.fixtures.gateway import users
from tests.gateway.test_stats import get_ok

WINDOW = 40  # days: cases open and step within the last WINDOW days
STATIONS = ("heping", "shuangqiao")  # where cases are filed: a village and a township
READ_AT = ("heping", "shuangqiao", "mengzhuiwan", "chenghua", "root")  # each station and its ancestors
# A step: (which of the actions allowed from the current status, days after the previous step: may be negative).
Step = tuple[int, int]
CaseRun = tuple[int, int, int, list[Step], bool]  # station, person, opening day, steps, deleted at the end

case_runs = st.lists(st.tuples(st.integers(0, len(STATIONS) - 1), st.integers(0, 1), st.integers(0, WINDOW - 1),
                               st.lists(st.tuples(st.integers(0, 6), st.integers(-12, 12)), max_size=6),
                               st.booleans()), min_size=1, max_size=2)


@pytest.fixture
async def casework(gateway_factory, admin_headers, gateway_tree):
    """An uncached gateway, a county social worker who files at any station below, two people."""
    gw = await gateway_factory(stats_cache_s=0, stats_stale_s=0)
    worker = (await users(gw, admin_headers, gateway_tree, ("county.worker", "social_worker",
                                                            "chenghua")))["county.worker"]
    people = []
    for name, populations in (("张桂芳", ["elderly"]), ("小明", ["child_left_behind", "children"])):
        r = await gw.post("/v1/beneficiaries", headers=worker, json={"name": name, "populations": populations})
        assert r.status_code == 201, r.text
        people.append(r.json())
    return {"gw": gw, "worker": worker, "people": people, "admin": admin_headers, "tree": gateway_tree, "cases": []}


def _recount(histories: dict[str, tuple[int, list[str], list[dict]]], station_ids: set[int], day: date,
             population: str | None) -> int:
    """Cases open at the end of `day`, from their histories: opened and reopened minus closed from an open status."""
    level = 0
    for station, populations, events in histories.values():
        if station not in station_ids or (population is not None and population not in populations):
            continue
        for e in events:
            if date.fromisoformat(e["occurred_on"]) > day:
                continue
            if e["action"] in ("open", "reopen"):
                level += 1
            elif e["action"] == "close" and e["from"] not in ("closed", "follow_up"):
                level -= 1
    return level


class TestBackDatedSteps:
    async def test_a_closure_dated_before_the_last_reopening_is_refused(self, casework):
        """The issue's case: opened 01-05, closed 02-01, reopened 03-01, then closed "on 02-15"."""
        gw, worker = casework["gw"], casework["worker"]
        year = clock.today().year - 1
        r = await gw.post("/v1/cases", headers=worker, json={
            "beneficiary_id": casework["people"][0]["id"], "title": "个案", "opened_on": f"{year}-01-05"})
        assert r.status_code == 201, r.text
        case = r.json()
        url = f"/v1/cases/{case['id']}"
        close = {"reason": "client_withdrew"}
        assert (await gw.post(f"{url}/close", headers=worker, json={**close, "on": f"{year}-02-01"})).status_code == 200
        assert (await gw.post(f"{url}/reopen", headers=worker, json={"on": f"{year}-03-01"})).status_code == 200

        r = await gw.post(f"{url}/close", headers=worker, json={**close, "on": f"{year}-02-15"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("on", "before_last_step")]
        assert f"{year}-03-01" in r.json()["errors"][0]["message"]
        # Nothing was written: the case is still open, its history has three steps.
        assert (await gw.get(url, headers=worker)).json()["status"] == "assessment"
        assert [e["action"] for e in (await gw.get(f"{url}/events", headers=worker)).json()["items"]] == [
            "open", "close", "reopen"]
        # The same day as the last step is fine.
        r = await gw.post(f"{url}/close", headers=worker, json={**close, "on": f"{year}-03-01"})
        assert r.status_code == 200 and r.json()["status"] == "closed", r.text
        body = await get_ok(gw, "/v1/stats/timeseries", casework["admin"], metric="cases.open", interval="day",
                            **{"from": date(year, 1, 1), "to": date(year, 3, 31)})
        assert min(body["series"][0]["values"]) == 0 and max(body["series"][0]["values"]) == 1

    @settings(max_examples=10, derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    # The sequence: opened, closed, reopened 5 days later, closed again 3 days before the reopening.
    @example(runs=[(0, 0, 5, [(1, 10), (1, 5), (1, -3)], False)], summary_days=[19, 20, WINDOW + 2])
    @given(runs=case_runs, summary_days=st.lists(st.integers(0, WINDOW + 2), min_size=2, max_size=3, unique=True))
    async def test_random_steps_keep_open_cases_a_recount_of_their_histories(self, casework, runs: list[CaseRun],
                                                                            summary_days: list[int]):
        gw, worker, admin, tree = casework["gw"], casework["worker"], casework["admin"], casework["tree"]
        today = clock.today()
        first = today - timedelta(days=WINDOW - 1)
        for station_index, person_index, opened, steps, deleted in runs:
            person = casework["people"][person_index]
            on = first + timedelta(days=opened)
            r = await gw.post("/v1/cases", headers=worker, json={
                "beneficiary_id": person["id"], "title": "个案", "opened_on": on.isoformat(),
                "station_id": tree[STATIONS[station_index]]["id"]})
            assert r.status_code == 201, r.text
            case = r.json()
            last, status = on, case["status"]
            for pick, delta in steps:
                actions = allowed_actions(status)
                action = actions[pick % len(actions)]
                day = min(max(last + timedelta(days=delta), first - timedelta(days=3)), today)
                body = {"on": day.isoformat()}
                if action == "close":
                    body["reason"] = "client_withdrew"
                r = await gw.post(f"/v1/cases/{case['id']}/{action}", headers=worker, json=body)
                if day < last:
                    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "on", (action, day, last, r.text)
                    continue
                assert r.status_code == 200, (action, day, r.text)
                last, status, case = day, r.json()["status"], r.json()
            if deleted:
                r = await gw.delete(f"/v1/cases/{case['id']}", headers={**worker, "If-Match": f'"{case["version"]}"'})
                assert r.status_code == 204, r.text
            else:
                casework["cases"].append((case["id"], case["station_id"], person["populations"]))

        histories = {}
        for case_id, station, populations in casework["cases"]:
            r = await gw.get(f"/v1/cases/{case_id}/events", headers=worker)
            assert r.status_code == 200, r.text
            histories[case_id] = (station, populations, r.json()["items"])
        ledger_tree = {s["id"]: s.get("parent_id") for s in tree.values()}

        def subtree(station: int) -> set[int]:
            def under(s):
                while s is not None:
                    if s == station:
                        return True
                    s = ledger_tree[s]
                return False
            return {s for s in ledger_tree if under(s)}

        days = [first - timedelta(days=3) + timedelta(days=i) for i in range(WINDOW + 3)]
        populations = sorted({p for _, pops, _ in histories.values() for p in pops})
        for name in READ_AT:
            station = tree[name]["id"]
            stations = subtree(station)
            body = await get_ok(gw, "/v1/stats/timeseries", admin, metric="cases.open", interval="day",
                                station_id=station, by="population", **{"from": days[0], "to": days[-1]})
            got = {s["population"]: s["values"] for s in body["series"]}
            assert all(v >= 0 for values in got.values() for v in values), (name, got)
            expected = [_recount(histories, stations, d, None) for d in days]
            assert got[None] == expected, name
            for p in populations:
                found = [_recount(histories, stations, d, p) for d in days]
                assert got.get(p, [0] * len(days)) == found, (name, p)
            # The summary's level at the end of its range, on days drawn too, and none of its figures negative.
            for d in (days[i] for i in summary_days):
                summary = await get_ok(gw, "/v1/stats/summary", admin, station_id=station,
                                       **{"from": days[0], "to": d})
                figures = summary["figures"]
                assert all(f["value"] >= 0 and all(v >= 0 for v in f["by_population"].values())
                           for f in figures.values() if f["value"] is not None), (name, d)
                assert figures["cases.open"]["value"] == _recount(histories, stations, d, None), (name, d)
                assert figures["cases.open"]["by_population"] == {
                    p: n for p in populations if (n := _recount(histories, stations, d, p))}, (name, d)
        assert Counter(h[0] for h in histories.values())  # the run made cases to count
