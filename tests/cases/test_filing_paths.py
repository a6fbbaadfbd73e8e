"""Where a record is filed: its station path, and its rollup rows' paths, come from the service's
replica of the station tree, never from the caller's token, also while a move is being applied."""

from __future__ import annotations

import asyncio
import random

from services.cases.models import PATH_TABLES
from shared.stats import ALL

# Station 2 (with its room 4) moves under station 3, in two pushes as the gateway may send them.
MOVE = ([{"id": 2, "parent_id": 3, "path": "/1/3/2/", "kind": "township", "name": "S2", "change_seq": 5000}],
        [{"id": 4, "parent_id": 2, "path": "/1/3/2/4/", "kind": "village", "name": "S4", "change_seq": 5001}])


async def move(cases_client, service_headers, pause_s: float = 0.0) -> None:
    for batch in MOVE:
        await asyncio.sleep(pause_s)
        r = await cases_client.put("/internal/stations", json={"stations": batch}, headers=service_headers)
        assert r.status_code == 200, r.text


async def misfiled(db) -> dict[str, int]:
    """Rows of each table whose path is not their station's path in the replica."""
    out = {}
    for table in PATH_TABLES:
        n = await db.fetchval(f'SELECT count(*) FROM cases."{table.name}" x JOIN cases.station s '
                              f"ON s.id = x.station_id WHERE x.station_path <> s.path")
        if n:
            out[table.name] = n
    return out


class TestATokensPathIsNotWhereRecordsGo:
    async def test_a_token_from_before_a_move(self, cases_client, service_headers, worker, tree, db, today):
        """The worker's token still says /1/2/ (the gateway would refuse it: this is the service's own
        line of defence): what she files goes under the station's place in the replica."""
        await move(cases_client, service_headers)
        r = await cases_client.post("/v1/beneficiaries", json={"name": "王五", "populations": ["elderly"]},
                                    headers=worker)
        assert r.status_code == 201, r.text
        ben = r.json()["id"]
        r = await cases_client.post("/v1/beneficiaries", json={"name": "赵六", "station_id": 4}, headers=worker)
        assert r.status_code == 201, r.text
        assert await db.fetchval("SELECT station_path FROM cases.beneficiary WHERE id = $1", ben) == "/1/3/2/"
        assert await db.fetchval("SELECT station_path FROM cases.beneficiary WHERE id = $1", r.json()["id"]) == \
            "/1/3/2/4/"
        assert await db.fetchval("SELECT station_path FROM cases.daily_stat WHERE station_id = 2 LIMIT 1") == \
            "/1/3/2/"
        assert await misfiled(db) == {}

    async def test_a_station_the_replica_does_not_have_yet(self, cases_client, token_for, tree, db):
        """A station created a moment ago: nothing is filed under a path the service cannot vouch for."""
        newcomer = token_for("social_worker", 77, "/1/2/77/", user_id="w77")
        r = await cases_client.post("/v1/beneficiaries", json={"name": "新站"}, headers=newcomer)
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.headers["content-type"] == "application/problem+json"
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0


class TestWritesRacingAMove:
    async def test_a_write_in_flight_when_the_move_arrives(self, cases_client, service_headers, city_head, tree, db,
                                                          monkeypatch):
        """A registration has read its station's path when the move is pushed: the push waits for it
        and moves its rows with the rest, instead of leaving them under the old path."""
        from services.cases.service import beneficiaries

        resolved, go_on = asyncio.Event(), asyncio.Event()
        real = beneficiaries.resolve_station

        async def paused(*args, **kwargs):
            found = await real(*args, **kwargs)
            resolved.set()
            await go_on.wait()
            return found

        monkeypatch.setattr(beneficiaries, "resolve_station", paused)
        writing = asyncio.create_task(cases_client.post("/v1/beneficiaries", headers=city_head, json={
            "name": "路上", "populations": ["elderly"], "station_id": 4}))
        await resolved.wait()
        moving = asyncio.create_task(move(cases_client, service_headers))
        await asyncio.sleep(0.3)  # the push has every chance to run ahead of the write
        go_on.set()
        r = await writing
        await moving
        assert r.status_code == 201, r.text
        assert await db.fetchval("SELECT station_path FROM cases.beneficiary WHERE id = $1", r.json()["id"]) == \
            "/1/3/2/4/"
        assert await misfiled(db) == {}

    async def test_every_row_ends_under_its_stations_new_path(self, cases_client, service_headers, city_head, tree,
                                                              open_case, db, today):
        """Service records and new people are written while the move is applied: afterwards every
        record and every rollup row lies under its station's new path, and the rollups agree with a
        recount of the records. (The city's head writes: her scope, /1/, holds both places.)"""
        cases = [await open_case(city_head, station_id=4), await open_case(city_head, station_id=2)]
        for case in cases:
            r = await cases_client.post(f"/v1/cases/{case['id']}/service-records", headers=city_head, json={
                "served_on": today.isoformat(), "mode": "office", "content": "x", "service_type": "resource_linking"})
            assert r.status_code == 201, r.text
        rng = random.Random(7)

        async def record(i: int) -> int:
            await asyncio.sleep(rng.random() * 0.05)
            case = cases[i % 2]
            r = await cases_client.post(f"/v1/cases/{case['id']}/service-records", headers=city_head, json={
                "served_on": today.isoformat(), "mode": "home_visit", "content": f"visit {i}",
                "service_type": "elder_child_care", "person_times": 1 + i % 3})
            return r.status_code

        async def person(i: int) -> int:
            await asyncio.sleep(rng.random() * 0.05)
            r = await cases_client.post("/v1/beneficiaries", headers=city_head, json={
                "name": f"张{i}", "populations": ["elderly"], "station_id": 4 if i % 2 else 2})
            return r.status_code

        results = await asyncio.gather(*(record(i) for i in range(24)), *(person(i) for i in range(8)),
                                       move(cases_client, service_headers, pause_s=0.02))
        assert [s for s in results if s is not None] == [201] * 32
        assert await db.fetchval("SELECT path FROM cases.station WHERE id = 4") == "/1/3/2/4/"
        assert await misfiled(db) == {}

        counted = {(r["station_id"], r["day"]): r["value"] for r in await db.fetch(
            "SELECT station_id, day, value FROM cases.daily_stat WHERE metric = 'person_times.casework' "
            "AND population = $1", ALL)}
        recount = {(r["station_id"], r["served_on"]): r["n"] for r in await db.fetch(
            "SELECT station_id, served_on, sum(person_times) AS n FROM cases.service_record "
            "WHERE deleted_at IS NULL GROUP BY 1, 2")}
        assert counted == recount and sum(recount.values()) == 2 + sum(1 + i % 3 for i in range(24))
        registered = {r["station_id"]: r["value"] for r in await db.fetch(
            "SELECT station_id, sum(value) AS value FROM cases.daily_stat "
            "WHERE metric = 'beneficiaries.registered' AND population = $1 GROUP BY 1", ALL)}
        assert registered == {r["station_id"]: r["n"] for r in await db.fetch(
            "SELECT station_id, count(*) AS n FROM cases.beneficiary WHERE deleted_at IS NULL GROUP BY 1")}
        persons = {(r["station_id"], r["day"], r["person"]) for r in await db.fetch(
            "SELECT station_id, day, person FROM cases.person_day WHERE population = $1", ALL)}
        assert persons == {(r["station_id"], r["served_on"], r["person_no"]) for r in await db.fetch(
            "SELECT DISTINCT r.station_id, r.served_on, b.person_no FROM cases.service_record r "
            "JOIN cases.beneficiary b ON b.id = r.beneficiary_id WHERE r.deleted_at IS NULL")}

        # The figures of the new parent count them all, the old parent's none.
        stats = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/3/", "from": today.isoformat(), "to": today.isoformat(),
            "metrics": ["person_times.casework"]})
        assert stats.json()["rows"][0]["value"] == sum(recount.values())
        stats = await cases_client.post("/internal/stats", headers=service_headers, json={
            "station_path": "/1/2/", "from": today.isoformat(), "to": today.isoformat(),
            "metrics": ["person_times.casework"]})
        assert stats.json()["rows"] == []
