"""Distinct persons (shared.persons): the person_day rollup moves with the service records, and
/internal/persons hands the gateway members or a sketch it can union with the projects service's."""

import os
from datetime import timedelta

from shared.contracts.persons.union import PersonsUnion
from shared.persons import person_key
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag


async def persons(client, service_headers, today, **query) -> list[dict]:
    body = {"station_path": "/1/", "from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat(),
            **query}
    r = await client.post("/internal/persons", json=body, headers=service_headers)
    assert r.status_code == 200, r.text
    return r.json()["groups"]


class TestPersonDay:
    async def test_a_person_served_twice_is_one_member_until_the_last_record_goes(
            self, cases_client, service_headers, worker, sibling, register, open_case, today):
        elder = await register(worker, populations=["elderly"])
        case = await open_case(worker, elder["id"], opened_on=(today - timedelta(days=20)).isoformat())
        first = await service_record(cases_client, worker, case["id"], today - timedelta(days=3))
        second = await service_record(cases_client, worker, case["id"], today - timedelta(days=3), person_times=2)
        other_case = await open_case(sibling, opened_on=(today - timedelta(days=20)).isoformat(), populations=[])
        await service_record(cases_client, sibling, other_case["id"], today)

        groups = await persons(cases_client, service_headers, today)
        assert groups == [{"count": 2, "members": sorted([person_key(elder["id"]),
                                                          person_key(other_case["beneficiary_id"])])}]
        by_pop = await persons(cases_client, service_headers, today, group_by=["population"])
        assert {g["population"]: g["count"] for g in by_pop} == {"_all": 2, "elderly": 1}
        by_station = await persons(cases_client, service_headers, today, group_by=["station"])
        assert {g["station"]: g["count"] for g in by_station} == {2: 1, 3: 1}
        # Only the sibling's station: the elder is not in its subtree.
        assert (await persons(cases_client, service_headers, today, station_path="/1/3/"))[0]["count"] == 1

        r = await cases_client.delete(f"/v1/cases/{case['id']}/service-records/{first['id']}",
                                      headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        assert (await persons(cases_client, service_headers, today, station_path="/1/2/"))[0]["count"] == 1
        r = await cases_client.delete(f"/v1/cases/{case['id']}/service-records/{second['id']}",
                                      headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        assert await persons(cases_client, service_headers, today, station_path="/1/2/") == []

    async def test_moving_a_record_to_another_day_moves_the_person(self, cases_client, service_headers, worker,
                                                                    register, open_case, today):
        case = await open_case(worker, opened_on=(today - timedelta(days=20)).isoformat())
        record = await service_record(cases_client, worker, case["id"], today - timedelta(days=10))
        by_day = await persons(cases_client, service_headers, today, group_by=["day"])
        assert [(g["period"], g["count"]) for g in by_day] == [((today - timedelta(days=10)).isoformat(), 1)]
        r = await cases_client.patch(f"/v1/cases/{case['id']}/service-records/{record['id']}",
                                     json={"served_on": (today - timedelta(days=2)).isoformat()},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        by_day = await persons(cases_client, service_headers, today, group_by=["day"])
        assert [(g["period"], g["count"]) for g in by_day] == [((today - timedelta(days=2)).isoformat(), 1)]

    async def test_past_the_exact_limit_a_sketch_travels_and_unions_with_members(
            self, cases_client, service_headers, worker, register, open_case, today):
        people = []
        for i in range(3):
            case = await open_case(worker, opened_on=(today - timedelta(days=20)).isoformat())
            await service_record(cases_client, worker, case["id"], today - timedelta(days=i))
            people.append(case["beneficiary_id"])
        [group] = await persons(cases_client, service_headers, today, exact_limit=2)
        assert group["count"] == 3 and "members" not in group and group["sketch"]

        union = PersonsUnion()
        union.add(group)
        # The same people again as members (another service's answer) plus one more.
        union.add({"members": [person_key(people[0]), person_key("someone-else")]})
        figure = union.figure()
        assert figure.exact is False and figure.value == 4 and figure.lower <= 4 <= figure.upper

    async def test_the_sql_key_of_a_migration_backfill_is_person_key(self, db):
        from shared.persons import PERSON_KEY_SQL

        for person_id in ("01JXAMPLE0000000000000000", "张三", ""):
            sql = "SELECT " + PERSON_KEY_SQL.format(column="$1::text")
            assert await db.fetchval(sql, person_id) == person_key(person_id)


class TestUnion:
    def test_large_sets_estimate_within_the_stated_bounds(self):
        """Two services' sketches of overlapping sets of 60,000: the union is near 90,000,
        inside the bounds the figure states, and far from the 120,000 a sum would give."""
        import base64

        from shared.contracts.persons.schemas import PersonsGroup
        from shared.contracts.persons.schemas import sketch_of as _sketch

        a = [person_key(f"p{i}") for i in range(60_000)]
        b = [person_key(f"p{i}") for i in range(30_000, 90_000)]
        union = PersonsUnion()
        for members in (a, b):
            sketch = base64.b64encode(_sketch(members).serialize_compact()).decode()
            union.add(PersonsGroup(count=len(members), sketch=sketch).model_dump())
        figure = union.figure()
        assert not figure.exact and figure.lower <= 90_000 <= figure.upper
        assert abs(figure.value - 90_000) / 90_000 < 0.02
        assert figure.upper - figure.lower < 0.05 * 90_000

    def test_members_alone_are_exact(self):
        union = PersonsUnion()
        union.add({"members": [1, 2, 3]})
        union.add({"members": [3, 4]})
        assert union.figure().model_dump(exclude_none=True) == {"value": 4, "exact": True}


class TestBackfill:
    async def test_the_migration_fills_person_day_from_the_records_already_there(
            self, cases_client, service_headers, worker, register, open_case, today, database_url):
        import asyncio

        from alembic import command

        from ops.migrate import config, upgrade_all

        case = await open_case(worker, opened_on=(today - timedelta(days=20)).isoformat())
        await service_record(cases_client, worker, case["id"], today - timedelta(days=4))
        await service_record(cases_client, worker, case["id"], today - timedelta(days=4))
        gone = await service_record(cases_client, worker, case["id"], today - timedelta(days=1))
        r = await cases_client.delete(f"/v1/cases/{case['id']}/service-records/{gone['id']}",
                                      headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        before = await persons(cases_client, service_headers, today, group_by=["day", "population"])

        cfg = config("cases", database_url)
        await asyncio.to_thread(command.downgrade, cfg, "cases_0003")
        # As `python -m ops.migrate` upgrades: the rebuilt tables are granted to the apps' role again.
        await asyncio.to_thread(upgrade_all, database_url, os.environ["DATABASE_URL"])
        assert await persons(cases_client, service_headers, today, group_by=["day", "population"]) == before
        assert [g["period"] for g in before if g["population"] == "_all"] == [(today - timedelta(days=4)).isoformat()]
