"""The counting contract for volunteers: registered, active (distinct), hours and person-times."""

from datetime import timedelta

from shared.stats import period_start
from tests.fixtures.calls import with_etag
from tests.fixtures.counting import internal_stats, own_station_figures, rows_of
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985


class TestInternalStats:
    async def test_counts_by_period_and_station(self, volunteers_client, service_headers, worker, sibling, register,
                                                record, act, today):
        a = await register(worker)
        b = await register(worker, name="李", id_number=ID_BORN_1985)
        c = await register(sibling, name="赵", id_number=ID_BORN_1970)
        day1, day2 = today - timedelta(days=40), today - timedelta(days=2)
        for headers, v, day, hours in ((worker, a, day1, "2"), (worker, a, day2, "3"), (worker, a, day2, "1"),
                                       (worker, b, day2, "4"), (sibling, c, today, "1.5")):
            await record(headers, v["id"], served_on=day.isoformat(), hours=hours)
        await record(worker, b["id"], served_on=day1.isoformat(), hours="5")
        total = await internal_stats(volunteers_client, service_headers, today)
        assert rows_of(total, "metric") == {("volunteers.registered",): 3, ("volunteer.hours",): 16.5,
                                            ("volunteer.person_times",): 6, ("volunteers.active",): 3}
        # A volunteer counts once as active however many days they served.
        recent = await internal_stats(volunteers_client, service_headers, today, metrics=["volunteers.active"],
                                      group_by=["station"])
        assert rows_of(recent, "station") == {(2,): 2, (3,): 1}
        by_month = await internal_stats(volunteers_client, service_headers, today,
                                        metrics=["volunteers.active", "volunteer.hours"], group_by=["month"])
        got = rows_of(by_month, "metric", "period")
        m1, m2 = period_start(day1, "month").isoformat(), period_start(day2, "month").isoformat()
        if m1 != m2:
            assert got[("volunteers.active", m1)] == 2 and got[("volunteer.hours", m1)] == 7
        by_day = await internal_stats(volunteers_client, service_headers, today, metrics=["volunteers.active"],
                                      group_by=["day", "population"])
        assert rows_of(by_day, "period", "population")[(day2.isoformat(), "_all")] == 2
        week = await internal_stats(volunteers_client, service_headers, today, group_by=["week"])
        assert sum(v for (m, _), v in rows_of(week, "metric", "period").items() if m == "volunteer.hours") == 16.5
        for group in ("quarter", "year"):
            assert (await internal_stats(volunteers_client, service_headers, today, group_by=[group]))["rows"]

    async def test_disputed_records_leave_the_counts(self, volunteers_client, service_headers, worker, login, me,
                                                     register, record, act, today):
        v = await register(worker)
        await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"user_id": login.user_id},
                                      headers=with_etag(login.head, '"1"'))
        h = await record(worker, v["id"], hours="3")
        query = {"metrics": ["volunteer.hours", "volunteers.active"]}
        assert rows_of(await internal_stats(volunteers_client, service_headers, today, **query), "metric") == {
            ("volunteer.hours",): 3, ("volunteers.active",): 1}
        await act(me, h["id"], "dispute", reason="没有参加")
        assert (await internal_stats(volunteers_client, service_headers, today, **query))["rows"] == []
        await act(worker, h["id"], "confirm")
        assert rows_of(await internal_stats(volunteers_client, service_headers, today, **query), "metric") == {
            ("volunteer.hours",): 3, ("volunteers.active",): 1}

    async def test_other_services_metrics_and_tokens(self, volunteers_client, tree, service_headers, worker, today):
        r = await volunteers_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/", "from": today.isoformat(), "to": today.isoformat(),
            "metrics": ["person_times.casework"]})
        assert r.status_code == 200 and r.json()["rows"] == []
        r = await volunteers_client.post("/internal/stats", headers=worker, json={
            "station_path": "/1/", "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 401


class TestUserStats:
    async def test_scoped_aggregates(self, volunteers_client, worker, sibling, official, me, register, record, today):
        v = await register(worker)
        await record(worker, v["id"], hours="2")
        c = await register(sibling, name="赵", id_number=ID_BORN_1970)
        await record(sibling, c["id"], hours="5")
        params = {"from": today.isoformat(), "to": today.isoformat(), "metric": "volunteer.hours"}
        await own_station_figures(volunteers_client, "/v1/volunteers/stats", params, worker, official)
        assert (await volunteers_client.get("/v1/volunteers/stats", params=params, headers=me)).status_code == 403


class TestStationMove:
    async def test_counts_and_records_follow_a_moved_station(self, volunteers_client, service_headers, worker,
                                                             register, record, db, today):
        v = await register(worker)
        await record(worker, v["id"], hours="2")
        moved = {"id": 2, "parent_id": 3, "path": "/1/3/2/", "kind": "township", "name": "Station 2",
                 "change_seq": 5000}
        r = await volunteers_client.put("/internal/stations", json={"stations": [moved]}, headers=service_headers)
        assert r.status_code == 200, r.text
        for table in ("volunteer", "service_hours", "daily_stat", "served_day"):
            assert await db.fetchval(f"SELECT DISTINCT station_path FROM volunteers.{table}") == "/1/3/2/", table
        r = await volunteers_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/", "from": today.isoformat(), "to": today.isoformat(), "group_by": ["station"],
            "metrics": ["volunteers.active", "volunteer.hours"]})
        assert rows_of(r.json(), "metric", "station") == {("volunteers.active", 3): 1, ("volunteer.hours", 3): 2}
