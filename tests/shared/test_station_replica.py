"""The station replica every service keeps, and path rewrites when a station moves."""

import asyncio

from tests.fixtures.stations import station_rows


class TestStationReplica:
    async def test_push_is_idempotent_and_ordered(self, projects_client, service_headers, db):
        rows = station_rows("/1/", "/1/2/", "/1/2/3/")
        r = await projects_client.put("/internal/stations", json={"stations": rows}, headers=service_headers)
        assert r.status_code == 200 and r.json() == {"applied": 3}
        again = await projects_client.put("/internal/stations", json={"stations": rows}, headers=service_headers)
        assert again.json() == {"applied": 0}
        cursor = await projects_client.get("/internal/stations/cursor", headers=service_headers)
        assert cursor.json() == {"change_seq": 1002}
        stored = await db.fetch("SELECT id, path FROM projects.station ORDER BY id")
        assert [(r["id"], r["path"]) for r in stored] == [(1, "/1/"), (2, "/1/2/"), (3, "/1/2/3/")]

    async def test_two_gateways_pushing_the_same_first_version_at_once_both_succeed(self, cases_client,
                                                                                     service_headers, db):
        # Two gateway workers (or a worker and a restart) push the same new stations together.
        body = {"stations": station_rows("/1/", "/1/2/", "/1/2/3/")}
        for _ in range(3):
            await db.execute("TRUNCATE cases.station")
            answers = await asyncio.gather(*(cases_client.put("/internal/stations", json=body, headers=service_headers)
                                             for _ in range(2)))
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            assert sorted(r.json()["applied"] for r in answers) == [0, 3]
            stored = await db.fetch("SELECT id, path FROM cases.station ORDER BY id")
            assert [(r["id"], r["path"]) for r in stored] == [(1, "/1/"), (2, "/1/2/"), (3, "/1/2/3/")]

    async def test_user_token_cannot_push(self, projects_client, token_for, db):
        r = await projects_client.put("/internal/stations", json={"stations": station_rows("/1/")},
                                      headers=token_for("admin"))
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert await db.fetchval("SELECT count(*) FROM projects.station") == 0

    async def test_move_rewrites_paths(self, projects_client, service_headers, db):
        await projects_client.put("/internal/stations", json={"stations": station_rows("/1/", "/1/2/", "/1/4/", "/1/2/3/")},
                                  headers=service_headers)
        moved = [
            {"id": 2, "parent_id": 4, "path": "/1/4/2/", "kind": "township", "name": "S2", "change_seq": 2000},
            {"id": 3, "parent_id": 2, "path": "/1/4/2/3/", "kind": "village", "name": "S3", "change_seq": 2001},
        ]
        r = await projects_client.put("/internal/stations", json={"stations": moved}, headers=service_headers)
        assert r.status_code == 200, r.text
        stored = dict(await db.fetch("SELECT id, path FROM projects.station"))
        assert stored == {1: "/1/", 2: "/1/4/2/", 3: "/1/4/2/3/", 4: "/1/4/"}
