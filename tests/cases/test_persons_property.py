"""Distinct persons under random programs of writes, deletes, date moves and station moves: at every
level of the tree and over several ranges, the persons the service answers are exactly those a
recount from the live service records finds (count(DISTINCT) of the served people's numbers)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cases.test_persons import members, persons
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag

# Station 4 sits under 2 in the seeded tree (/1/2/4/); a move takes it under 3 and back.
PLACES = {False: {2: "/1/2/", 3: "/1/3/", 4: "/1/2/4/"}, True: {2: "/1/2/", 3: "/1/3/", 4: "/1/3/4/"}}
LEVELS = ("/1/", "/1/2/", "/1/3/")

step = st.one_of(
    st.tuples(st.just("serve"), st.integers(0, 3), st.integers(0, 45)),  # person, days ago
    st.tuples(st.just("delete"), st.integers(0, 50), st.just(0)),  # which record (modulo how many)
    st.tuples(st.just("redate"), st.integers(0, 50), st.integers(0, 45)),
    st.tuples(st.just("move"), st.just(0), st.just(0)),
)


async def recount(db, path: str, frm: date, to: date) -> list[int]:
    rows = await db.fetch("""
        SELECT DISTINCT b.person_no FROM cases.service_record r JOIN cases.beneficiary b ON b.id = r.beneficiary_id
        WHERE r.deleted_at IS NULL AND r.station_path LIKE $1 || '%' AND r.served_on BETWEEN $2 AND $3
        ORDER BY 1""", path, frm, to)
    return [r[0] for r in rows]


class TestAgainstARecount:
    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(program=st.lists(step, min_size=4, max_size=14))
    async def test_every_level_and_range(self, program, cases_client, service_headers, token_for, tree,
                                         register, open_case, today, db):
        # Each example adds to the same database: the recount reads it whole, so earlier examples count too.
        moved = await db.fetchval("SELECT path FROM cases.station WHERE id = 4") == "/1/3/4/"
        # A worker of the whole tree: station 4 stays in her reach wherever it moves.
        headers = token_for("social_worker", 1, "/1/", user_id="w-root")
        people = []
        for i, station in enumerate((2, 4, 3, 4)):
            b = await register(headers, station_id=station, populations=["elderly"] if i % 2 else [])
            case = await open_case(headers, b["id"], station_id=station,
                                   opened_on=(today - timedelta(days=60)).isoformat())
            people.append((case, headers))
        records: list[tuple[dict, dict, dict]] = []  # (case, record, headers), live ones
        for kind, a, b in program:
            if kind == "serve":
                case, headers = people[a]
                records.append((case, await service_record(cases_client, headers, case["id"],
                                                           today - timedelta(days=b)), headers))
            elif kind in ("delete", "redate") and records:
                case, record, headers = records[a % len(records)]
                url = f"/v1/cases/{case['id']}/service-records/{record['id']}"
                etag = with_etag(headers, f'"{record["version"]}"')
                if kind == "delete":
                    r = await cases_client.delete(url, headers=etag)
                    assert r.status_code == 204, r.text
                    records.remove((case, record, headers))
                else:
                    r = await cases_client.patch(url, headers=etag,
                                                 json={"served_on": (today - timedelta(days=b)).isoformat()})
                    assert r.status_code == 200, r.text
                    records[a % len(records)] = (case, r.json(), headers)
            elif kind == "move":
                moved = not moved
                seq = 10_000 + await db.fetchval("SELECT max(change_seq) FROM cases.station")
                r = await cases_client.put("/internal/stations", headers=service_headers, json={"stations": [
                    {"id": 4, "parent_id": 3 if moved else 2, "path": PLACES[moved][4], "kind": "village",
                     "name": "S4", "change_seq": seq}]})
                assert r.status_code == 200, r.text

            for path in (*LEVELS, PLACES[moved][4]):
                for frm, to in ((today - timedelta(days=45), today),
                                (today - timedelta(days=20), today - timedelta(days=3))):
                    found = await persons(cases_client, service_headers, today, station_path=path,
                                          **{"from": frm.isoformat(), "to": to.isoformat()})
                    expected = await recount(db, path, frm, to)
                    assert [n for g in found for n in members(g)] == expected, (path, frm, to, kind)
            by_month = await persons(cases_client, service_headers, today, group_by=["month"],
                                     **{"from": (today - timedelta(days=45)).isoformat(), "to": today.isoformat()})
            for g in by_month:
                start = date.fromisoformat(g["period"])
                end = min((start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), today)
                assert members(g) == await recount(db, "/1/", max(start, today - timedelta(days=45)), end)
