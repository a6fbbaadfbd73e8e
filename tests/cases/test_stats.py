"""The counting contract: rollups written with the records, answered per period, population and station."""

import asyncio
import time
from collections import defaultdict
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.stats import period_start
from tests.fixtures.calls import with_etag
from tests.fixtures.counting import internal_stats, own_station_figures, rows_of


async def service_record(client, headers, case_id, served_on, person_times=1, **extra):
    r = await client.post(f"/v1/cases/{case_id}/service-records", headers=headers, json={
        "served_on": served_on.isoformat(), "mode": "home_visit", "content": "探访",
        "service_type": "social_assistance", "person_times": person_times, **extra})
    assert r.status_code == 201, r.text
    return r.json()


class TestInternalStats:
    async def test_person_times_by_population_period_and_station(self, cases_client, service_headers, worker,
                                                                 sibling, register, open_case, today):
        elder = await register(worker, populations=["elderly", "elderly_alone"])
        child = await register(worker, name="小明", populations=["children"])
        start = today - timedelta(days=50)
        elder_case = await open_case(worker, elder["id"], opened_on=start.isoformat())
        child_case = await open_case(worker, child["id"], opened_on=start.isoformat())
        other_case = await open_case(sibling, opened_on=start.isoformat(), populations=[])
        served = [(elder_case, today - timedelta(days=40), 1), (elder_case, today - timedelta(days=10), 2),
                  (child_case, today - timedelta(days=10), 1), (child_case, today, 3), (other_case, today, 4)]
        for case, day, n in served:
            await service_record(cases_client, worker if case is not other_case else sibling, case["id"], day, n)
        # A later change of populations does not rewrite what was reported.
        await cases_client.patch(f"/v1/beneficiaries/{elder['id']}", json={"populations": ["disabled"]},
                                 headers=with_etag(worker, '"1"'))

        total = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"])
        assert total["rows"] == [{"metric": "person_times.casework", "population": None, "period": None,
                                  "station": None, "value": 11.0}]

        by_pop = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"],
                                      group_by=["population"])
        assert rows_of(by_pop, "population") == {("_all",): 11, ("elderly",): 3, ("elderly_alone",): 3,
                                                 ("children",): 4}

        for period in ("day", "week", "month"):
            got = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"],
                                       group_by=[period])
            expected = defaultdict(float)
            for _, day, n in served:
                expected[(period_start(day, period).isoformat(),)] += n
            assert rows_of(got, "period") == expected, period

        by_station = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"],
                                          group_by=["station"])
        assert rows_of(by_station, "station") == {(2,): 7, (3,): 4}
        inside = await internal_stats(cases_client, service_headers, today, station_path="/1/2/",
                                      metrics=["person_times.casework"], group_by=["station", "population"])
        assert rows_of(inside, "station", "population")[(2, "_all")] == 7

        narrow = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"],
                                      **{"from": (today - timedelta(days=10)).isoformat()})
        assert narrow["rows"][0]["value"] == 10

    async def test_cases_counts_and_open_stock(self, cases_client, service_headers, worker, register, open_case, act,
                                               today):
        b = await register(worker, populations=["elderly"])
        d = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
        a = await open_case(worker, b["id"], opened_on=d(70))
        c1 = await open_case(worker, b["id"], opened_on=d(40))
        c2 = await open_case(worker, b["id"], opened_on=d(5))
        await act(worker, a["id"], "close", reason="other", on=d(30))
        await act(worker, c1["id"], "close", reason="referred", on=d(20))
        await act(worker, c1["id"], "follow-up", on=d(19))
        await act(worker, c1["id"], "reopen", on=d(2))
        await act(worker, c2["id"], "close", reason="unreachable", on=d(1))
        await act(worker, c2["id"], "reopen", on=d(0))

        got = await internal_stats(cases_client, service_headers, today)
        flows = rows_of(got, "metric")
        # from = today-60: a (opened day 70) is before the range; its closure (day 30) is inside.
        assert flows[("cases.new",)] == 2 and flows[("cases.closed",)] == 3 and flows[("cases.reopened",)] == 2
        assert flows[("cases.open",)] == 2 and flows[("beneficiaries.registered",)] == 1

        past = await internal_stats(cases_client, service_headers, today, metrics=["cases.open"],
                                    to=d(25), **{"from": d(60)})
        assert past["rows"][0]["value"] == 1  # only c1 is open 25 days ago

        by_day = await internal_stats(cases_client, service_headers, today, metrics=["cases.open"], group_by=["day"],
                                      **{"from": d(45)})
        level = {r["period"]: r["value"] for r in by_day["rows"]}
        assert level[d(45)] == 1 and level[d(40)] == 2 and level[d(30)] == 1 and d(19) not in level
        assert level[d(5)] == 1 and level[d(2)] == 2 and level[d(1)] == 1 and level[d(0)] == 2

        by_month = await internal_stats(cases_client, service_headers, today, metrics=["cases.open"],
                                        group_by=["month", "population"])
        last = period_start(today, "month").isoformat()
        assert rows_of(by_month, "period", "population")[(last, "elderly")] == 2

    async def test_rollup_follows_updates_and_deletes(self, cases_client, service_headers, worker, open_case, db,
                                                      today):
        case = await open_case(worker, opened_on=(today - timedelta(days=10)).isoformat())
        rec = await service_record(cases_client, worker, case["id"], today - timedelta(days=3), 2,
                                   resources_yuan="150.50")
        url = f"/v1/cases/{case['id']}/service-records/{rec['id']}"
        r = await cases_client.patch(url, headers=with_etag(worker, '"1"'),
                                     json={"person_times": 5, "served_on": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 200
        stored = {(r["day"], r["metric"]): r["value"] for r in await db.fetch(
            "SELECT day, metric, value FROM cases.daily_stat WHERE population = '_all' AND metric IN "
            "('person_times.casework', 'resources.linked_yuan')")}
        assert stored == {(today - timedelta(days=3), "person_times.casework"): 0,
                          (today - timedelta(days=1), "person_times.casework"): 5,
                          (today - timedelta(days=3), "resources.linked_yuan"): 0,
                          (today - timedelta(days=1), "resources.linked_yuan"): 150.5}
        got = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"])
        assert got["rows"][0]["value"] == 5
        assert (await cases_client.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        got = await internal_stats(cases_client, service_headers, today, metrics=["person_times.casework"])
        assert got["rows"] == []

    async def test_only_the_service_token(self, cases_client, tree, admin_token, today):
        r = await cases_client.post("/internal/stats", headers=admin_token, json={
            "station_path": "/1/", "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 401

    async def test_bad_query(self, cases_client, tree, service_headers, today):
        r = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/", "from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 422


class TestUserStats:
    async def test_scoped_rows_for_officials_and_workers(self, cases_client, worker, sibling, official, open_case,
                                                         today):
        case = await open_case(worker)
        await service_record(cases_client, worker, case["id"], today, 2)
        theirs = await open_case(sibling)
        await service_record(cases_client, sibling, theirs["id"], today, 5)
        params = {"from": today.isoformat(), "to": today.isoformat(), "metric": "person_times.casework"}
        await own_station_figures(cases_client, "/v1/cases/stats", params, worker, official)
        r = await cases_client.get("/v1/cases/stats", params={**params, "group_by": ["day", "month"]}, headers=worker)
        assert r.status_code == 422


class TestRollupProperty:
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ops=st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]), st.integers(0, 6),
                                  st.integers(1, 5)), min_size=1, max_size=8))
    async def test_totals_equal_live_records(self, cases_client, worker, open_case, db, today, ops):
        """After any sequence of creates, updates and deletes, each day's rollup equals its live records."""
        case = await open_case(worker, opened_on=(today - timedelta(days=10)).isoformat())
        live: list[dict] = []
        for op, days_ago, n in ops:
            if op == "create" or not live:
                live.append(await service_record(cases_client, worker, case["id"], today - timedelta(days=days_ago), n))
                continue
            target = live[days_ago % len(live)]
            url = f"/v1/cases/{case['id']}/service-records/{target['id']}"
            headers = with_etag(worker, f'"{target["version"]}"')
            if op == "update":
                r = await cases_client.patch(url, headers=headers, json={
                    "person_times": n, "served_on": (today - timedelta(days=days_ago)).isoformat()})
                assert r.status_code == 200
                live[live.index(target)] = r.json()
            else:
                assert (await cases_client.delete(url, headers=headers)).status_code == 204
                live.remove(target)
        records = dict(await db.fetch(
            "SELECT served_on, sum(person_times) FROM cases.service_record WHERE deleted_at IS NULL GROUP BY 1"))
        rollup = {r["day"]: r["value"] for r in await db.fetch(
            "SELECT day, value FROM cases.daily_stat WHERE metric = 'person_times.casework' "
            "AND population = '_all' AND value <> 0")}
        assert rollup == records


class TestBoundedQueries:
    """A stats query costs what a dashboard may ask for: dates in the calendar the records keep
    (shared.schemas.AnyDate), at most shared.stats.MAX_PERIODS periods, at most MAX_ROWS rows."""

    async def test_the_probes_whole_calendar_by_day_is_refused_at_once(self, cases_client, tree, worker, today):
        started = time.monotonic()
        r = await cases_client.get("/v1/cases/stats", headers=worker,
                                   params={"from": "1900-01-01", "to": "9999-12-31", "group_by": "day"})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.to"], r.text
        assert time.monotonic() - started < 2
        # Plausible dates, but 73,000 days: refused as too many periods, naming the grouping.
        r = await cases_client.get("/v1/cases/stats", headers=worker,
                                   params={"from": "1900-01-01", "to": "2099-12-31", "group_by": "day"})
        assert r.status_code == 422, r.text
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("query.group_by", "too_many_periods")]
        assert time.monotonic() - started < 4
        # The same two centuries by year are 200 periods, and the whole range without periods is one figure.
        for grouping in ({"group_by": "year"}, {}):
            r = await cases_client.get("/v1/cases/stats", headers=worker,
                                       params={"from": "1900-01-01", "to": "2099-12-31", **grouping})
            assert r.status_code == 200, r.text
        r = await cases_client.get("/v1/cases/stats", headers=worker,
                                   params={"from": today.isoformat(), "to": today.isoformat(),
                                           "group_by": ["day", "month"]})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.group_by"], r.text
        r = await cases_client.get("/v1/cases/stats", headers=worker,
                                   params={"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.from"], r.text

    async def test_the_internal_query_has_the_same_bounds(self, cases_client, projects_client, volunteers_client,
                                                          service_headers):
        for client in (cases_client, projects_client, volunteers_client):
            for body, field in (({"from": "0001-01-01", "to": "2000-01-01"}, "from"),
                                ({"from": "2000-01-01", "to": "9999-12-31"}, "to"),
                                ({"from": "1900-01-01", "to": "2099-12-31", "group_by": ["day"]}, "group_by")):
                r = await client.post("/internal/stats", headers=service_headers,
                                      json={"station_path": "/1/", **body})
                assert r.status_code == 422, (client.base_url, body, r.text)
                assert [e["field"] for e in r.json()["errors"]] == [field], r.text

    async def test_a_large_bounded_query_leaves_the_service_answering(self, cases_client, tree, city_head, db,
                                                                      today):
        # A busy city's rollup, written straight into the table (a thousand days of casework made through
        # the API would take minutes): cases opened every ten days at 20 stations in three populations.
        first = today - timedelta(days=999)
        rows = [(100 + s, f"/1/{100 + s}/", first + timedelta(days=d), "cases.open", population, 1)
                for s in range(20) for d in range(0, 1000, 10) for population in ("_all", "elderly", "children")]
        await db.executemany("INSERT INTO cases.daily_stat (station_id, station_path, day, metric, population, value)"
                             " VALUES ($1, $2, $3, $4, $5, $6)", rows)
        params = {"from": first.isoformat(), "to": today.isoformat(), "metric": "cases.open",
                  "group_by": ["day", "station", "population"]}
        big = asyncio.create_task(cases_client.get("/v1/cases/stats", headers=city_head, params=params))
        waits = []
        while not big.done():
            started = time.monotonic()
            r = await cases_client.get("/v1/beneficiaries", headers=city_head, params={"limit": 1})
            assert r.status_code == 200
            waits.append(time.monotonic() - started)
        r = await big
        assert r.status_code == 200, r.text
        # Every (station, population) is open on each day from its first case on: 20 x 3 x 1000 levels.
        levels = rows_of(r.json(), "station", "population", "period")
        assert len(levels) == 60_000 and levels[(100, "elderly", today.isoformat())] == 100
        assert levels[(119, "_all", (first + timedelta(days=15)).isoformat())] == 2
        assert waits and max(waits) < 1.0, (len(waits), max(waits))
