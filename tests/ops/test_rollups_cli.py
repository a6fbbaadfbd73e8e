"""`haolin rollups verify|rebuild` against the test database: drift put into the rollup by ancestor is
found, named, and repaired, and the figures read from it come back to what the records say."""

from __future__ import annotations

from datetime import timedelta

from shared.rollup import fold_sql, live_sums_sql


async def _figure(cases_client, service_headers, path: str, today) -> float:
    r = await cases_client.post("/internal/stats", headers=service_headers, json={
        "station_path": path, "from": (today - timedelta(days=40)).isoformat(), "to": today.isoformat(),
        "metrics": ["beneficiaries.registered"]})
    assert r.status_code == 200, r.text
    return sum(row["value"] for row in r.json()["rows"])


class TestRollupsCommands:
    async def test_verify_finds_drift_and_rebuild_repairs_it(self, haolin, cases_client, push_tree, token_for,
                                                              service_headers, db, today):
        await push_tree(cases_client)
        worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
        for station in (2, 4, 4):
            r = await cases_client.post("/v1/beneficiaries", headers=worker,
                                        json={"name": "张三丰", "station_id": station})
            assert r.status_code == 201, r.text
        assert await _figure(cases_client, service_headers, "/1/2/", today) == 3
        clean = await haolin("rollups", "verify")
        assert clean.exit_code == 0 and "rollups: no drift" in clean.stdout, clean.output

        # Today's row of station 2 off by 7, once the writes are folded into it.
        await db.execute(fold_sql("cases", batch=False))
        await db.execute("UPDATE cases.ancestor_stat SET value = value + 7 WHERE node_id = 2 AND grain = 'd' "
                         "AND metric = 'beneficiaries.registered' AND population = '_all'")
        r = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/2/", "from": today.replace(day=1).isoformat(), "to": today.isoformat(),
            "group_by": ["month"], "metrics": ["beneficiaries.registered"]})
        assert r.json()["rows"][0]["value"] == 10
        found = await haolin("rollups", "verify")
        assert found.exit_code == 1, found.output
        assert f"cases: station 2 day {today.isoformat()} beneficiaries.registered _all: " \
               "kept 10.00, counted 3.00" in found.stdout, found.stdout
        assert "drift: 1 row(s) at 1 station(s)" in found.stdout

        fixed = await haolin("rollups", "rebuild", "--station", "2")
        assert fixed.exit_code == 0 and "cases: rebuilt station 2 (/1/2/) and below" in fixed.stdout, fixed.output
        assert (await haolin("rollups", "verify")).exit_code == 0
        r = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/2/", "from": today.replace(day=1).isoformat(), "to": today.isoformat(),
            "group_by": ["month"], "metrics": ["beneficiaries.registered"]})
        assert r.json()["rows"][0]["value"] == 3
        assert await _figure(cases_client, service_headers, "/1/", today) == 3

        # A whole rebuild leaves the same rows the writes kept.
        rows = f"SELECT * FROM ({live_sums_sql('cases')}) AS s WHERE value <> 0 ORDER BY 1, 2, 3, 4, 5"
        kept = [tuple(r) for r in await db.fetch(rows)]
        whole = await haolin("rollups", "rebuild")
        assert whole.exit_code == 0 and "cases: rebuilt" in whole.stdout, whole.output
        assert [tuple(r) for r in await db.fetch(rows)] == kept

    async def test_rebuild_of_an_unknown_station_says_so(self, haolin, cases_client, push_tree):
        await push_tree(cases_client)
        result = await haolin("rollups", "rebuild", "--station", "999999")
        assert result.exit_code == 1 and "No station 999999" in result.output, result.output


class TestKeptDistinctSets:
    async def test_verify_finds_a_kept_set_that_drifted_and_rebuild_drops_it(
            self, haolin, cases_client, push_tree, token_for, service_headers, db, today):
        from pyroaring import BitMap

        from shared.contracts.persons.schemas import decode
        from shared.distinct_sets import month_end
        from tests.cases.test_stats import service_record

        await push_tree(cases_client)
        worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        r = await cases_client.post("/v1/beneficiaries", headers=worker, json={"name": "张三丰", "station_id": 2})
        assert r.status_code == 201, r.text
        person = r.json()
        r = await cases_client.post("/v1/cases", headers=worker, json={
            "beneficiary_id": person["id"], "title": "独居老人照护",
            "opened_on": (first - timedelta(days=5)).isoformat()})
        assert r.status_code == 201, r.text
        await service_record(cases_client, worker, r.json()["id"], first + timedelta(days=1))
        number = await db.fetchval("SELECT person_no FROM cases.beneficiary WHERE id = $1", person["id"])

        async def served() -> list[int]:
            r = await cases_client.post("/internal/persons", headers=service_headers, json={
                "station_path": "/1/", "from": first.isoformat(), "to": month_end(first).isoformat()})
            assert r.status_code == 200, r.text
            return [n for g in r.json()["groups"] for n in decode(g["bitmap"])]

        assert await served() == [number]  # built and kept
        clean = await haolin("rollups", "verify")
        assert clean.exit_code == 0 and "rollups: no drift" in clean.stdout, clean.output

        # The province's kept set of that month off by a made-up person, its numbers still current.
        await db.execute("UPDATE cases.distinct_set SET everyone = $1 WHERE node_id = 1 AND month = $2 "
                         "AND kind = 'persons'", BitMap([number, 999_999]).serialize(), first)
        assert await served() == [number, 999_999]
        found = await haolin("rollups", "verify")
        assert found.exit_code == 1, found.output
        assert f"cases: station 1 month {first.isoformat()} persons: kept 2, counted 1" in found.stdout, found.stdout
        assert "drift: 1 kept distinct set(s)" in found.stdout

        fixed = await haolin("rollups", "rebuild")
        assert fixed.exit_code == 0 and "kept distinct set(s) dropped" in fixed.stdout, fixed.output
        assert await db.fetchval("SELECT count(*) FROM cases.distinct_set") == 0
        assert await served() == [number]
        assert (await haolin("rollups", "verify")).exit_code == 0

    async def test_verify_checks_the_kept_sets_of_active_volunteers_and_rebuild_drops_them(
            self, haolin, volunteers_client, push_tree, token_for, service_headers, db, today):
        from pyroaring import BitMap

        from shared.distinct_sets import month_end
        from tests.fixtures.people import ID_BORN_1990

        await push_tree(volunteers_client)
        worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        r = await volunteers_client.post("/v1/volunteers", headers=worker,
                                         json={"name": "张志愿", "id_number": ID_BORN_1990, "station_id": 4})
        assert r.status_code == 201, r.text
        volunteer = r.json()["id"]
        r = await volunteers_client.post("/v1/volunteer-hours", headers=worker, json={
            "volunteer_id": volunteer, "station_id": 4, "served_on": (first + timedelta(days=3)).isoformat(),
            "hours": "2", "content": "助老送餐"})
        assert r.status_code == 201, r.text
        number = await db.fetchval("SELECT member_no FROM volunteers.volunteer WHERE id = $1", volunteer)

        async def active(path: str) -> int:
            r = await volunteers_client.post("/internal/stats", headers=service_headers, json={
                "station_path": path, "from": first.isoformat(), "to": month_end(first).isoformat(),
                "metrics": ["volunteers.active"]})
            assert r.status_code == 200, r.text
            return sum(row["value"] for row in r.json()["rows"])

        assert await active("/1/") == 1  # built and kept, at the province and below
        assert await db.fetchval("SELECT count(*) FROM volunteers.distinct_set WHERE kind = 'volunteers'") > 0
        clean = await haolin("rollups", "verify")
        assert clean.exit_code == 0 and "rollups: no drift" in clean.stdout, clean.output

        # The province's kept set off by a made-up volunteer, its numbers still current.
        await db.execute("UPDATE volunteers.distinct_set SET everyone = $1 WHERE node_id = 1 AND month = $2 "
                         "AND kind = 'volunteers'", BitMap([number, 999_999]).serialize(), first)
        assert await active("/1/") == 2
        found = await haolin("rollups", "verify")
        assert found.exit_code == 1, found.output
        assert f"volunteers: station 1 month {first.isoformat()} volunteers: kept 2, counted 1" in found.stdout, \
            found.stdout

        # A rebuild of a station below drops the sets above it too (they hold its subtree).
        fixed = await haolin("rollups", "rebuild", "--station", "4")
        assert fixed.exit_code == 0 and "kept distinct set(s) dropped" in fixed.stdout, fixed.output
        assert await db.fetchval("SELECT count(*) FROM volunteers.distinct_set WHERE node_id = 1") == 0
        assert await active("/1/") == 1
        assert (await haolin("rollups", "verify")).exit_code == 0
