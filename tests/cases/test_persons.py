"""Distinct persons (shared.persons): the person_day rollup moves with the service records, and
/internal/persons hands the gateway a bitmap of person numbers it unions exactly with the projects service's."""

import os
from datetime import timedelta

from shared.contracts.persons.schemas import decode
from shared.contracts.persons.union import PersonsUnion
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag


async def persons(client, service_headers, today, **query) -> list[dict]:
    body = {"station_path": "/1/", "from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat(),
            **query}
    r = await client.post("/internal/persons", json=body, headers=service_headers)
    assert r.status_code == 200, r.text
    return r.json()["groups"]


async def person_numbers(db, *beneficiary_ids: str) -> list[int]:
    """The person numbers the cases service gave these beneficiaries, as stored."""
    found = dict(await db.fetch("SELECT id, person_no FROM cases.beneficiary WHERE id = ANY($1::varchar[])",
                                list(beneficiary_ids)))
    assert len(found) == len(set(beneficiary_ids))
    return sorted(found[i] for i in set(beneficiary_ids))


def members(group: dict) -> list[int]:
    """The person numbers of a group's bitmap, which must agree with its count."""
    found = list(decode(group["bitmap"]))
    assert group["count"] == len(found)
    return found


class TestPersonDay:
    async def test_a_person_served_twice_is_one_member_until_the_last_record_goes(
            self, cases_client, service_headers, worker, sibling, register, open_case, today, db):
        elder = await register(worker, populations=["elderly"])
        case = await open_case(worker, elder["id"], opened_on=(today - timedelta(days=20)).isoformat())
        first = await service_record(cases_client, worker, case["id"], today - timedelta(days=3))
        second = await service_record(cases_client, worker, case["id"], today - timedelta(days=3), person_times=2)
        other_case = await open_case(sibling, opened_on=(today - timedelta(days=20)).isoformat(), populations=[])
        await service_record(cases_client, sibling, other_case["id"], today)

        [group] = await persons(cases_client, service_headers, today)
        assert members(group) == await person_numbers(db, elder["id"], other_case["beneficiary_id"])
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

    async def test_every_beneficiary_gets_its_own_number_once(self, worker, register, db):
        people = [(await register(worker))["id"] for _ in range(3)]
        numbers = await person_numbers(db, *people)
        assert len(set(numbers)) == 3 and all(0 < n < 2**31 for n in numbers)


class TestUnion:
    def test_a_person_in_both_services_counts_once(self):
        from pyroaring import BitMap

        from shared.contracts.persons.schemas import PersonsGroup, encode

        union = PersonsUnion()
        for numbers in (range(1, 60_001), range(30_001, 90_001)):
            union.add(PersonsGroup(count=len(numbers), bitmap=encode(BitMap(numbers))).model_dump())
        assert union.figure().model_dump() == {"value": 90_000, "exact": True}

    def test_nobody_is_zero(self):
        assert PersonsUnion().figure().value == 0


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
        before = counts(await persons(cases_client, service_headers, today, group_by=["day", "population"]))

        cfg = config("cases", database_url)
        await asyncio.to_thread(command.downgrade, cfg, "cases_0003")
        # As `python -m ops.migrate` upgrades: the rebuilt tables are granted to the apps' role again.
        await asyncio.to_thread(upgrade_all, database_url, os.environ["DATABASE_URL"])
        # Numbered again from 1 in registration order: the same people, so the same counts.
        assert counts(await persons(cases_client, service_headers, today, group_by=["day", "population"])) == before
        assert [p for (pop, p) in before if pop == "_all"] == [(today - timedelta(days=4)).isoformat()]


def counts(groups: list[dict]) -> dict[tuple, int]:
    return {(g["population"], g["period"]): len(members(g)) for g in groups}
