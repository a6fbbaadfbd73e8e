"""Active volunteers kept by ancestor and month (shared.distinct_sets, kind `volunteers`): a kept set is
served while nothing under its node changed in its month, and built again by the next reader after any
change to served_day there, by every path that changes it (a REST create, a tablet's push, a correction
that moves the day, a dispute and its confirmation, a delete, a station move); the answer is always
count(DISTINCT) of the volunteers with a counted record, at every level of the tree and for any range."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap
from sqlalchemy import event

from shared.distinct_sets import month_end
from tests.fixtures.calls import with_etag
from tests.fixtures.people import id_number
from tests.volunteers.test_sync import hours_row, pull, push  # noqa: F401 - pull: a fixture

# Station 4 sits under 2 in the seeded tree (/1/2/4/); a move takes it under 3 and back.
PLACES = {False: "/1/2/4/", True: "/1/3/4/"}
LEVELS = ("/1/", "/1/2/", "/1/3/")
_born = itertools.count()
_pushed = itertools.count()  # ids of pushed records: a tablet never reuses one


def last_month(today: date) -> tuple[date, date]:
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return first, month_end(first)


def new_id_number() -> str:
    """A valid ID number of an adult never registered before in this run."""
    born = date(1960, 1, 1) + timedelta(days=next(_born))
    return id_number(f"510104{born:%Y%m%d}123")


async def recount(db, path: str, frm: date, to: date) -> list[int]:
    """The member numbers of the volunteers served under `path` in [frm, to], from served_day's rows; and
    checked against the records themselves (every shift here ends on the day it starts)."""
    numbers = [r[0] for r in await db.fetch(
        "SELECT DISTINCT member_no FROM volunteers.served_day WHERE station_path LIKE $1 || '%' "
        "AND day BETWEEN $2 AND $3 ORDER BY 1", path, frm, to)]
    assert len(numbers) == await db.fetchval(
        "SELECT count(DISTINCT volunteer_id) FROM volunteers.service_hours WHERE deleted_at IS NULL "
        "AND status IN ('recorded', 'confirmed', 'corrected') AND station_path LIKE $1 || '%' "
        "AND served_on BETWEEN $2 AND $3", path, frm, to)
    return numbers


PERIODS = ("day", "week", "month", "quarter", "year")


async def by_period(db, path: str, frm: date, to: date, period: str) -> dict:
    """count(DISTINCT) of served_day's rows under `path` in [frm, to] per period (weeks from Monday)."""
    return {(r[0].isoformat(), None): r[1] for r in await db.fetch(
        f"SELECT date_trunc('{period}', day)::date, count(DISTINCT volunteer_id) FROM volunteers.served_day "
        "WHERE station_path LIKE $1 || '%' AND day BETWEEN $2 AND $3 GROUP BY 1", path, frm, to)}


async def active(client, service_headers, path: str, frm: date, to: date, group_by=()) -> dict:
    r = await client.post("/internal/stats", headers=service_headers, json={
        "station_path": path, "from": frm.isoformat(), "to": to.isoformat(), "metrics": ["volunteers.active"],
        "group_by": list(group_by)})
    assert r.status_code == 200, r.text
    return {(row["period"], row["station"]): row["value"] for row in r.json()["rows"]}


async def kept(db, node: int, month: date) -> list[int] | None:
    row = await db.fetchval("SELECT everyone FROM volunteers.distinct_set WHERE node_id = $1 AND month = $2 "
                            "AND kind = 'volunteers'", node, month)
    return None if row is None else list(BitMap.deserialize(row))


@pytest.fixture
def root(token_for):
    """A worker of the whole tree: station 4 stays in her reach wherever it moves."""
    return token_for("social_worker", 1, "/1/", user_id="w-root")


@pytest.fixture
def statements(volunteers_app):
    """The statements the volunteers service sends, from now on."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = volunteers_app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


class TestMemberNumbers:
    async def test_each_volunteer_has_its_own_number_and_served_day_carries_it(
            self, volunteers_client, register, record, root, db, today):
        made = [await register(root, id_number=new_id_number()) for _ in range(3)]
        numbers = [await db.fetchval("SELECT member_no FROM volunteers.volunteer WHERE id = $1", v["id"])
                   for v in made]
        assert len(set(numbers)) == 3 and numbers == sorted(numbers)
        await record(root, made[1]["id"], hours="1")
        assert await db.fetchval("SELECT member_no FROM volunteers.served_day WHERE volunteer_id = $1",
                                 made[1]["id"]) == numbers[1]


class TestKeptVolunteers:
    async def test_a_warm_read_serves_the_kept_set_without_reading_the_rows(
            self, volunteers_client, service_headers, register, record, root, db, today, statements):
        first, last = last_month(today)
        for station, day in ((2, first), (4, first + timedelta(days=9)), (3, last), (4, last)):
            v = await register(root, id_number=new_id_number())
            await record(root, v["id"], station_id=station, served_on=day.isoformat(), hours="1")
        expected = await recount(db, "/1/", first, last)
        assert len(expected) == 4
        assert await active(volunteers_client, service_headers, "/1/", first, last) == {(None, None): 4}
        assert await kept(db, 1, first) == expected

        statements.clear()
        assert await active(volunteers_client, service_headers, "/1/", first, last) == {(None, None): 4}
        assert any("distinct_set" in s for s in statements), statements
        assert not any("served_day" in s for s in statements), statements
        # What a warm read serves is the kept set itself: one planted there, its numbers left as they are,
        # is what the next reader counts (and `haolin rollups verify` reports it: tests/ops).
        await db.execute("UPDATE volunteers.distinct_set SET everyone = $1 WHERE node_id = 1 AND month = $2",
                         BitMap([999_999]).serialize(), first)
        assert await active(volunteers_client, service_headers, "/1/", first, last) == {(None, None): 1}

    async def test_every_change_to_served_day_builds_it_again(
            self, volunteers_client, service_headers, register, record, act, worker, login, me, pull, db, today):
        first, last = last_month(today)
        mine = await register(worker)  # the volunteer whose login is `me`
        r = await volunteers_client.patch(f"/v1/volunteers/{mine['id']}", json={"user_id": login.user_id},
                                          headers=with_etag(login.head, '"1"'))
        assert r.status_code == 200, r.text
        other = await register(worker, id_number=new_id_number())

        async def agrees() -> int:
            for path in ("/1/", "/1/2/"):
                expected = await recount(db, path, first, last)
                found = await active(volunteers_client, service_headers, path, first, last)
                assert found == ({(None, None): len(expected)} if expected else {}), path
                # Built again and kept: what a second reader is served is the new set.
                assert await kept(db, int(path.strip("/").split("/")[-1]), first) == expected
            return len(expected)

        one = await record(worker, mine["id"], served_on=(first + timedelta(days=2)).isoformat(), hours="1")
        assert await agrees() == 1
        changes = await db.fetchval("SELECT changes FROM volunteers.distinct_set WHERE node_id = 1 AND month = $1",
                                    first)
        # A second volunteer: made by a tablet's push (the lean path).
        await push(volunteers_client, service_headers, volunteer_hours={"created": [
            hours_row("tab-h1", other["id"], first + timedelta(days=3), start_time=None, end_time=None, hours=1)]})
        assert await agrees() == 2
        assert await db.fetchval("SELECT changes FROM volunteers.distinct_set WHERE node_id = 1 AND month = $1",
                                 first) > changes
        # Disputed by the volunteer: leaves the counts; confirmed: back.
        disputed = await act(me, one["id"], "dispute", reason="没有参加")
        assert await agrees() == 1
        confirmed = await act(worker, one["id"], "confirm")
        assert await agrees() == 2
        # Moved out of the month by a correction, and back into it.
        moved = await posted_correction(volunteers_client, worker, confirmed, served_on=today)
        assert await agrees() == 1
        await posted_correction(volunteers_client, worker, moved, served_on=first + timedelta(days=20))
        assert await agrees() == 2
        assert disputed["status"] == "disputed"
        # Deleted by the tablet: gone.
        got = await pull()
        await push(volunteers_client, service_headers, since=got["cursor"], volunteer_hours={"deleted": ["tab-h1"]})
        assert await agrees() == 1


async def posted_correction(client, headers, record: dict, served_on: date) -> dict:
    r = await client.post(f"/v1/volunteer-hours/{record['id']}/correct",
                          json={"served_on": served_on.isoformat(), "reason": "日期记错了"},
                          headers=with_etag(headers, f'"{record["version"]}"'))
    assert r.status_code == 200, r.text
    return r.json()


step = st.one_of(
    st.tuples(st.just("serve"), st.integers(0, 3), st.integers(0, 2), st.integers(0, 70)),  # who, where, when
    st.tuples(st.just("push"), st.integers(0, 3), st.just(0), st.integers(0, 70)),
    st.tuples(st.just("delete"), st.integers(0, 50), st.just(0), st.just(0)),  # which record (modulo)
    st.tuples(st.just("redate"), st.integers(0, 50), st.just(0), st.integers(0, 70)),
    st.tuples(st.just("move"), st.just(0), st.just(0), st.just(0)),
)


class TestAgainstARecount:
    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(program=st.lists(step, min_size=4, max_size=12))
    async def test_every_level_and_range(self, program, volunteers_client, service_headers, register, record,
                                         root, db, today):
        # Each example adds to the same database: the recount reads it whole, so earlier examples count too.
        moved = await db.fetchval("SELECT path FROM volunteers.station WHERE id = 4") == PLACES[True]
        first, last = last_month(today)
        start = first - timedelta(days=5)
        span = (today - start).days
        # At station 2, where the tablet that pushes their hours may read them.
        people = [(await register(root, id_number=new_id_number(), station_id=2))["id"] for _ in range(4)]
        records: list[dict] = []  # live ones
        for kind, a, b, c in program:
            day = start + timedelta(days=c % (span + 1))
            if kind == "serve":
                records.append(await record(root, people[a], station_id=(2, 3, 4)[b], served_on=day.isoformat(),
                                            hours="1"))
            elif kind == "push":
                hid = f"tab-{next(_pushed)}-{people[a]}"
                await push(volunteers_client, service_headers, volunteer_hours={"created": [
                    hours_row(hid, people[a], day, start_time=None, end_time=None, hours=1)]})
                records.append({"id": hid, "version": 1})
            elif kind == "delete" and records:
                gone = records.pop(a % len(records))
                r = await volunteers_client.delete(f"/v1/volunteer-hours/{gone['id']}",
                                                   headers=with_etag(root, f'"{gone["version"]}"'))
                assert r.status_code == 204, r.text
            elif kind == "redate" and records:
                i = a % len(records)
                records[i] = await posted_correction(volunteers_client, root, records[i], day)
            elif kind == "move":
                moved = not moved
                seq = 10_000 + await db.fetchval("SELECT max(change_seq) FROM volunteers.station")
                r = await volunteers_client.put("/internal/stations", headers=service_headers, json={"stations": [
                    {"id": 4, "parent_id": 3 if moved else 2, "path": PLACES[moved], "kind": "village",
                     "name": "S4", "change_seq": seq}]})
                assert r.status_code == 200, r.text

            # A whole month (kept sets), a range with partial months at its edges, and by month.
            for path in (*LEVELS, PLACES[moved]):
                for frm, to in ((first, last), (start, today)):
                    expected = len(await recount(db, path, frm, to))
                    found = await active(volunteers_client, service_headers, path, frm, to)
                    assert found == ({(None, None): expected} if expected else {}), (path, frm, to, kind)
            # By every period (day and week from the rows; month, quarter and year from the kept sets,
            # their partial first and last periods from the rows), at the province and a county.
            for path in ("/1/", "/1/2/"):
                for period in PERIODS:
                    found = await active(volunteers_client, service_headers, path, start, today, [period])
                    assert found == await by_period(db, path, start, today, period), (path, period)
            # By child (a breakdown): each child's subtree, the node's own records under its id.
            children = await active(volunteers_client, service_headers, "/1/", first, last, ["station"])
            for child, path in ((2, "/1/2/"), (3, "/1/3/")):
                expected = len(await recount(db, path, first, last))
                assert children.get((None, child), 0) == expected, (child, children)
        assert await db.fetchval("SELECT count(*) FROM volunteers.distinct_set WHERE kind = 'volunteers'") > 0
