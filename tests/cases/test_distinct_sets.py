"""Persons, active stations and workers kept by ancestor and month (shared.distinct_sets): a kept set is
served while nothing under its node changed in its month, and is built again, by the next reader, after
any change there: a record made, deleted or moved out of the month, a worker changed, a station moved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyroaring import BitMap
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from shared.contracts.persons.schemas import PersonsQuery, decode
from shared.distinct_sets import Kept, month_end
from shared.persons import persons as read_persons
from tests.cases.test_persons import members, persons
from tests.cases.test_persons_property import recount
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag


def last_month(today: date) -> tuple[date, date]:
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return first, month_end(first)


async def month_persons(client, service_headers, today, path: str) -> list[int]:
    first, last = last_month(today)
    found = await persons(client, service_headers, today, station_path=path,
                          **{"from": first.isoformat(), "to": last.isoformat()})
    return [n for g in found for n in members(g)]


async def kept_row(db, node: int, month: date, kind: str = "persons"):
    return await db.fetchrow("SELECT changes, tree, everyone FROM cases.distinct_set "
                             "WHERE node_id = $1 AND month = $2 AND kind = $3", node, month, kind)


@pytest.fixture
def statements(cases_app):
    """The statements the cases service's figure reads send, from now on."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = cases_app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


class TestKeptPersons:
    async def test_a_warm_read_serves_the_kept_set_without_reading_the_rows(
            self, cases_client, service_headers, worker, room_worker, open_case, today, db, statements):
        first, last = last_month(today)
        opened = (first - timedelta(days=5)).isoformat()
        for headers, day in ((worker, first), (room_worker, first + timedelta(days=9)), (worker, last)):
            case = await open_case(headers, opened_on=opened)
            await service_record(cases_client, headers, case["id"], day)
        expected = await recount(db, "/1/", first, last)
        assert len(expected) == 3

        assert await month_persons(cases_client, service_headers, today, "/1/") == expected
        kept = await kept_row(db, 1, first)
        assert kept is not None and list(BitMap.deserialize(kept["everyone"])) == expected

        statements.clear()
        assert await month_persons(cases_client, service_headers, today, "/1/") == expected
        assert any("distinct_set" in s for s in statements), statements
        assert not any("person_day" in s for s in statements), statements
        # What a warm read serves is the kept set itself: one planted there, its numbers left as they
        # are, is what the next reader gets (and `haolin rollups verify` reports it: tests/ops).
        await db.execute("UPDATE cases.distinct_set SET everyone = $1 WHERE node_id = 1 AND month = $2",
                         BitMap([999_999]).serialize(), first)
        assert await month_persons(cases_client, service_headers, today, "/1/") == [999_999]

    async def test_every_change_in_the_month_builds_it_again(self, cases_client, service_headers, worker,
                                                              open_case, today, db):
        first, last = last_month(today)
        opened = (first - timedelta(days=5)).isoformat()
        one, two = [await open_case(worker, opened_on=opened) for _ in range(2)]
        kept_one = await service_record(cases_client, worker, one["id"], first + timedelta(days=2))
        await service_record(cases_client, worker, one["id"], first + timedelta(days=3))

        async def agrees() -> list[int]:
            for path in ("/1/", "/1/2/"):
                found = await month_persons(cases_client, service_headers, today, path)
                assert found == await recount(db, path, first, last), path
                # Built again and kept: what a second reader is served is the new set.
                node = int(path.strip("/").split("/")[-1])
                assert list(BitMap.deserialize((await kept_row(db, node, first))["everyone"])) == found
            return found

        assert len(await agrees()) == 1
        changes = (await kept_row(db, 1, first))["changes"]

        # A record of a second person: made.
        made = await service_record(cases_client, worker, two["id"], first + timedelta(days=4))
        assert len(await agrees()) == 2
        assert (await kept_row(db, 1, first))["changes"] > changes

        # Deleted: gone again.
        r = await cases_client.delete(f"/v1/cases/{two['id']}/service-records/{made['id']}",
                                      headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        assert len(await agrees()) == 1

        # One of the first person's two records moved out of the month: still served in it.
        r = await cases_client.patch(f"/v1/cases/{one['id']}/service-records/{kept_one['id']}",
                                     json={"served_on": today.isoformat()}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        assert len(await agrees()) == 1
        # A date moved inside the month changes no set, yet still counts as a change (and costs a build).
        second = (await db.fetchrow("SELECT id, version FROM cases.service_record WHERE case_id = $1 "
                                    "AND served_on = $2", one["id"], first + timedelta(days=3)))
        r = await cases_client.patch(f"/v1/cases/{one['id']}/service-records/{second['id']}",
                                     json={"served_on": (first + timedelta(days=6)).isoformat()},
                                     headers=with_etag(worker, f'"{second["version"]}"'))
        assert r.status_code == 200, r.text
        assert len(await agrees()) == 1
        # And the last one out of the month: nobody.
        r = await cases_client.patch(f"/v1/cases/{one['id']}/service-records/{second['id']}",
                                     json={"served_on": today.isoformat()},
                                     headers=with_etag(worker, f'"{second["version"] + 1}"'))
        assert r.status_code == 200, r.text
        assert await agrees() == []

    async def test_a_stale_month_is_built_from_the_kept_sets_below_it(
            self, cases_client, service_headers, room_worker, sibling, open_case, today, db):
        first, last = last_month(today)
        opened = (first - timedelta(days=5)).isoformat()
        for headers in (room_worker, sibling):
            case = await open_case(headers, opened_on=opened)
            await service_record(cases_client, headers, case["id"], first + timedelta(days=1))
        assert await month_persons(cases_client, service_headers, today, "/1/") == await recount(db, "/1/", first, last)
        # Never built: read from the subtree's rows, and only the node's set is kept.
        assert await db.fetchval("SELECT array_agg(node_id ORDER BY node_id) FROM cases.distinct_set") == [1]

        async def served_at_4() -> None:
            case = await open_case(room_worker, opened_on=opened)
            await service_record(cases_client, room_worker, case["id"], first + timedelta(days=2))

        await served_at_4()
        assert await month_persons(cases_client, service_headers, today, "/1/") == await recount(db, "/1/", first, last)
        # Stale, with nothing kept below: its subtree read grouped by child, whose sets are kept too.
        assert await db.fetchval("SELECT array_agg(node_id ORDER BY node_id) FROM cases.distinct_set") == [1, 2, 3]

        # Station 3's set planted with a made-up person, its numbers current: the next build of the
        # city after a write at 4 takes 3's kept set as it is, without reading 3's rows.
        await db.execute("UPDATE cases.distinct_set SET everyone = $1 WHERE node_id = 3 AND month = $2",
                         BitMap([999_999]).serialize(), first)
        await served_at_4()
        # 2 stale again, and nothing kept below it: read grouped by its children, and 4's set kept;
        # 3 current: taken as kept.
        assert await month_persons(cases_client, service_headers, today, "/1/") == sorted(
            [*[n for n in await recount(db, "/1/", first, last) if n not in await recount(db, "/1/3/", first, last)],
             999_999])
        assert await db.fetchval("SELECT array_agg(node_id ORDER BY node_id) FROM cases.distinct_set") == [1, 2, 3, 4]

    async def test_readers_at_once_build_and_keep_the_same_sets(self, cases_client, service_headers, worker,
                                                                 room_worker, sibling, open_case, today, db,
                                                                 caplog):
        import asyncio

        first, last = last_month(today)
        opened = (first - timedelta(days=5)).isoformat()
        for round_ in range(3):
            for headers in (worker, room_worker, sibling):
                case = await open_case(headers, opened_on=opened)
                await service_record(cases_client, headers, case["id"], first + timedelta(days=round_))
            expected = await recount(db, "/1/", first, last)
            # Eight readers of a stale (or never built) month at once: none fails, each answers exactly.
            found = await asyncio.gather(*(month_persons(cases_client, service_headers, today, "/1/")
                                           for _ in range(8)))
            assert found == [expected] * 8
            kept = await kept_row(db, 1, first)
            assert list(BitMap.deserialize(kept["everyone"])) == expected
        # No reader's keeping failed (a deadlock or a conflict would be logged, and the answer served anyway).
        assert not [r for r in caplog.records if "could not keep" in r.getMessage()]

    async def test_a_set_kept_for_everyone_is_built_again_for_populations(
            self, cases_client, service_headers, worker, sibling, open_case, today, db):
        first, last = last_month(today)
        for headers, populations in ((worker, ["elderly"]), (sibling, ["children", "elderly"])):
            case = await open_case(headers, opened_on=(first - timedelta(days=5)).isoformat(),
                                   populations=populations)
            await service_record(cases_client, headers, case["id"], first + timedelta(days=1))
        everyone = await month_persons(cases_client, service_headers, today, "/1/")
        assert len(everyone) == 2
        assert await db.fetchval("SELECT populations FROM cases.distinct_set WHERE node_id = 1") is None

        by_population = await persons(cases_client, service_headers, today, group_by=["population"],
                                      **{"from": first.isoformat(), "to": last.isoformat()})
        assert {g["population"]: len(members(g)) for g in by_population} == {"_all": 2, "children": 1,
                                                                            "elderly": 2}
        assert await db.fetchval("SELECT populations FROM cases.distinct_set WHERE node_id = 1") == [
            "children", "elderly"]
        # And a question without populations is served from the same row.
        assert await month_persons(cases_client, service_headers, today, "/1/") == everyone

    async def test_a_station_move_builds_it_again(self, cases_client, service_headers, room_worker, open_case,
                                                   today, db):
        first, last = last_month(today)
        case = await open_case(room_worker, opened_on=(first - timedelta(days=5)).isoformat())
        await service_record(cases_client, room_worker, case["id"], first + timedelta(days=1))
        served = await recount(db, "/1/2/4/", first, last)
        assert await month_persons(cases_client, service_headers, today, "/1/2/") == served
        assert await month_persons(cases_client, service_headers, today, "/1/3/") == []
        assert await kept_row(db, 3, first) is not None

        seq = 10_000 + await db.fetchval("SELECT max(change_seq) FROM cases.station")
        r = await cases_client.put("/internal/stations", headers=service_headers, json={"stations": [
            {"id": 4, "parent_id": 3, "path": "/1/3/4/", "kind": "village", "name": "S4", "change_seq": seq}]})
        assert r.status_code == 200, r.text
        assert await month_persons(cases_client, service_headers, today, "/1/2/") == []
        assert await month_persons(cases_client, service_headers, today, "/1/3/") == served
        assert await month_persons(cases_client, service_headers, today, "/1/") == served

    @pytest.mark.parametrize("group_by", [[], ["population"], ["month"], ["month", "population"], ["quarter"],
                                          ["year", "population"], ["station"], ["station", "population"],
                                          ["month", "station"]])
    async def test_kept_and_read_from_the_rows_agree(self, group_by, cases_client, service_headers, worker,
                                                     room_worker, sibling, open_case, today, database_url):
        """The faster path keeps the slower one's answer: the same question over a range with whole
        months and partial ones at its edges, answered from kept sets (never built, warm, and stale
        after a write at a village) and from the rows."""
        start = today - timedelta(days=100)
        cases = []
        for i, (headers, populations) in enumerate(((worker, ["elderly"]), (room_worker, []),
                                                     (sibling, ["elderly", "children"]), (worker, ["children"]))):
            case = await open_case(headers, opened_on=(start - timedelta(days=5)).isoformat(),
                                   populations=populations)
            cases.append(case)
            for days in (i * 7, i * 7 + 31, i * 13 + 60):
                await service_record(cases_client, headers, case["id"], start + timedelta(days=days))
        from services.cases import models

        engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        keep = lambda: AsyncSession(engine)  # noqa: E731
        query = PersonsQuery(station_path="/1/", from_on=start + timedelta(days=3), to_on=today, group_by=group_by)

        async def both() -> tuple:
            async with AsyncSession(engine) as session:
                rows = await read_persons(session, models.PersonDay, query)
                kept = await read_persons(session, models.PersonDay, query, Kept.of(models), keep)
            return opened(rows), opened(kept)

        try:
            rows, cold = await both()
            assert rows, "nobody served: the comparison would prove nothing"
            # The same groups and members (a bitmap's bytes may differ: a union keeps runs a fresh one does not).
            assert cold == rows
            assert await both() == (rows, rows)  # warm
            for days in (40, 41):  # a write at the village in a whole month, twice: stale, then stale again
                await service_record(cases_client, room_worker, cases[1]["id"], start + timedelta(days=days))
                rows, stale = await both()
                assert stale == rows
        finally:
            await engine.dispose()


def opened(answer) -> list[tuple]:
    return [(g.population, g.period, g.station, g.count, list(decode(g.bitmap))) for g in answer.groups]


class TestKeptActivity:
    async def test_a_record_given_to_another_worker_builds_it_again(self, cases_client, service_headers, worker,
                                                                     open_case, today, db):
        first, last = last_month(today)
        case = await open_case(worker, opened_on=(first - timedelta(days=5)).isoformat())
        record = await service_record(cases_client, worker, case["id"], first + timedelta(days=1), worker_id="201")

        async def active() -> list[tuple]:
            r = await cases_client.post("/internal/activity", headers=service_headers, json={
                "station_path": "/1/", "from": first.isoformat(), "to": last.isoformat()})
            assert r.status_code == 200, r.text
            return [(g["stations"], g["workers"]) for g in r.json()["groups"]]

        assert await active() == [([2], ["201"])]
        assert await kept_row(db, 1, first, "workers") is not None
        assert await active() == [([2], ["201"])]
        # Nothing counted moves (the same person-times on the same day): the change still reaches the set.
        r = await cases_client.patch(f"/v1/cases/{case['id']}/service-records/{record['id']}",
                                     json={"worker_id": "202"}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        assert await active() == [([2], ["202"])]
        # By child station, from the children's kept sets (built by a scan grouped by child the first time).
        for _ in range(2):
            r = await cases_client.post("/internal/activity", headers=service_headers, json={
                "station_path": "/1/", "from": first.isoformat(), "to": last.isoformat(), "group_by": ["station"]})
            assert r.status_code == 200, r.text
            assert [(g["station"], g["stations"], g["workers"]) for g in r.json()["groups"]] == [(2, [2], ["202"])]
        assert await kept_row(db, 2, first, "workers") is not None
