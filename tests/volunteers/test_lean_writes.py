"""The lean write path of volunteer hours (service.hours.create_many, used by REST creates and tablet pushes)
against the ORM path it stands in for (service.hours.create): the same inputs leave the same stored rows,
history entries, audit rows and figures (daily_stat, ancestor_stat kept by its trigger, served_day). Each
path runs in a transaction of the service's own engine that is read and then rolled back, so both start
from the same database and may use the same client ids."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from services.volunteers.schemas.hours import HoursCreate
from services.volunteers.service import hours as hours_service
from shared.rollup import live_sums_sql
from shared.contracts.lookup.client import Asker
from shared.db import raw_connection
from shared.principals import Principal, Role, device_principal
from shared.review import Review
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985, ID_BORN_1990
from tests.volunteers.test_sync import hours_row, push, stats

# Everything but the timestamps, the sync marker and the history's sequence, which differ between any two writes.
STORED = {
    "service_hours": "SELECT id, volunteer_id, team_id, station_id, station_path, activity_kind, activity_ref, "
                     "activity_title, served_on, ends_on, start_time, end_time, hours, content, status, "
                     "dispute_reason, create_digest, created_by, updated_by, version, review, deleted_at "
                     "FROM volunteers.service_hours ORDER BY id",
    "service_hours_version": "SELECT hours_id, version, action, status, snapshot, note, by "
                             "FROM volunteers.service_hours_version ORDER BY hours_id, version",
    "volunteer": "SELECT id, certified_hours, version FROM volunteers.volunteer ORDER BY id",
    "audit_log": "SELECT actor_id, actor_role, device_id, address, request_id, operation, action, record_table, "
                 "record_id, station_path FROM volunteers.audit_log ORDER BY 8, 9, 7, 1, 2, 3, 4, 5, 6, 10",
    "daily_stat": "SELECT station_id, day, metric, population, station_path, value FROM volunteers.daily_stat "
                  "ORDER BY 1, 2, 3, 4",
    "ancestor_stat": "SELECT node_id, grain, metric, period, population, parent_id, value "
                     f"FROM ({live_sums_sql('volunteers')}) AS s WHERE value <> 0 ORDER BY 1, 2, 3, 4, 5",
    "served_day": "SELECT volunteer_id, day, station_id, station_path, records FROM volunteers.served_day "
                  "ORDER BY 1, 2, 3",
}


async def _written(app, principal: Principal, asker: Asker, inputs: list[dict], lean: bool,
                   review) -> dict[str, list[dict]]:
    """What one path leaves in the database for `inputs` (create bodies), read inside its transaction, which
    is then rolled back."""
    db, vault = app.state.db, app.state.vault
    bodies = [HoursCreate.model_validate(body) for body in inputs]
    async with db.write_sessions() as session:
        session.info["principal"] = principal  # the audit actor, as a push names its device
        await session.execute(text(db.write_guard))
        if lean:
            await hours_service.create_many(session, vault, asker, principal, bodies, review=review)
        else:
            for body in bodies:
                await hours_service.create(session, vault, asker, principal, body, review())
        conn = await raw_connection(session)
        found = {name: [dict(r) for r in await conn.fetch(sql)] for name, sql in STORED.items()}
        await session.rollback()
    return found


@pytest.fixture
async def volunteers(register, record, make_activity, worker, today):
    """Two volunteers of station 2, the first with 20 hours recorded yesterday; an activity a-1 there."""
    first = (await register(worker, id_number=ID_BORN_1990))["id"]
    second = (await register(worker, name="李志愿", id_number=ID_BORN_1985))["id"]
    await record(worker, first, served_on=(today - timedelta(days=1)).isoformat(), hours="20")
    await make_activity("a-1")
    return first, second


def _inputs(first: str, second: str, today, flagged: bool) -> list[dict]:
    day, yesterday = today.isoformat(), (today - timedelta(days=1)).isoformat()
    inputs = [
        {"id": "h-1", "volunteer_id": first, "served_on": day, "start_time": "09:00", "end_time": "11:30",
         "content": "助老送餐", "station_id": 2},
        # Past midnight: its hours split over two days, one person-time on the first.
        {"id": "h-2", "volunteer_id": second, "served_on": yesterday, "ends_on": day, "start_time": "22:00",
         "end_time": "02:00", "content": "夜间陪护"},
        # At an activity the projects service shows the caller.
        {"id": "h-3", "volunteer_id": second, "served_on": day, "hours": "1.5", "content": "活动协助",
         "activity_kind": "community_activity", "activity_ref": "a-1"},
        # A retry of the first.
        {"id": "h-1", "volunteer_id": first, "served_on": day, "start_time": "09:00", "end_time": "11:30",
         "content": "助老送餐", "station_id": 2},
        # With yesterday's 20 hours: 23.
        {"id": "h-4", "volunteer_id": first, "served_on": yesterday, "hours": "3", "content": "陪诊"},
    ]
    if flagged:  # with h-1 earlier in the same batch, more than 24 hours today: a tablet's is kept and flagged
        inputs.append({"id": "h-5", "volunteer_id": first, "served_on": day, "hours": "22", "content": "补录"})
    return inputs


def _asker(app, headers: dict) -> Asker:
    return Asker(app.state.lookup, lambda: headers["Authorization"].removeprefix("Bearer "))


class TestLeanAgainstOrm:
    async def test_a_tablets_records(self, volunteers_app, volunteers, worker, today):
        tablet = device_principal("tab-1", 2, "/1/2/")
        inputs = _inputs(*volunteers, today, flagged=True)
        asker = _asker(volunteers_app, worker)
        flag = lambda: Review(flag=True)  # noqa: E731
        orm = await _written(volunteers_app, tablet, asker, inputs, lean=False, review=flag)
        lean = await _written(volunteers_app, tablet, asker, inputs, lean=True, review=flag)
        made = {r["id"]: r for r in orm["service_hours"]}
        assert set(made) >= {"h-1", "h-2", "h-3", "h-4", "h-5"} and made["h-1"]["hours"] == Decimal("2.50")
        assert made["h-5"]["review"][0]["code"] == "over_24_a_day" and made["h-4"]["review"] is None
        assert len([r for r in orm["served_day"] if r["volunteer_id"] == volunteers[1]]) == 2
        assert [r["record_id"] for r in orm["audit_log"] if r["actor_id"] == "device:tab-1"] == [
            "h-1", "h-2", "h-3", "h-4", "h-5"]
        for name in STORED:
            assert lean[name] == orm[name], name

    async def test_a_workers_records(self, volunteers_app, volunteers, worker, today):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        inputs = _inputs(*volunteers, today, flagged=False)
        asker = _asker(volunteers_app, worker)
        orm = await _written(volunteers_app, principal, asker, inputs, lean=False, review=Review)
        lean = await _written(volunteers_app, principal, asker, inputs, lean=True, review=Review)
        assert {r["created_by"] for r in orm["service_hours"]} == {"w2"}
        for name in STORED:
            assert lean[name] == orm[name], name


class TestLeanPush:
    """What the batched push adds to the one-by-one one: the rules hold for the whole batch."""

    async def test_a_volunteer_out_of_scope_names_the_record_and_writes_nothing(
            self, volunteers_client, service_headers, register, worker, sibling, db, today):
        ours = (await register(worker, id_number=ID_BORN_1990))["id"]
        theirs = (await register(sibling, id_number=ID_BORN_1970))["id"]
        rows = [hours_row("h-1", ours, today), hours_row("h-2", ours, today), hours_row("h-3", theirs, today)]
        body = await push(volunteers_client, service_headers, expect=403, volunteer_hours={"created": rows})
        assert body["records"] == [{"table": "volunteer_hours", "id": "h-3"}]
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0
        assert await db.fetchval("SELECT count(*) FROM volunteers.daily_stat WHERE metric = 'volunteer.hours'") == 0

    async def test_a_bad_shift_is_named_and_nothing_written(self, volunteers_client, service_headers, register,
                                                           worker, db, today):
        ours = (await register(worker, id_number=ID_BORN_1990))["id"]
        rows = [hours_row("h-1", ours, today), hours_row("h-2", ours, today, start_time="11:00", end_time="09:00")]
        body = await push(volunteers_client, service_headers, expect=422, volunteer_hours={"created": rows})
        assert [e["field"] for e in body["errors"]] == ["changes.volunteer_hours.h-2.end_time"]
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0

    async def test_over_24_hours_within_one_push_flags_the_record_past_it(self, volunteers_client, service_headers,
                                                                         register, worker, db, today):
        ours = (await register(worker, id_number=ID_BORN_1990))["id"]
        rows = [hours_row(f"h-{i}", ours, today, start_time=None, end_time=None, hours=10) for i in range(3)]
        await push(volunteers_client, service_headers, volunteer_hours={"created": rows})
        flagged = await db.fetch("SELECT id FROM volunteers.service_hours WHERE review IS NOT NULL ORDER BY id")
        assert [r["id"] for r in flagged] == ["h-2"]

    async def test_a_retried_push_counts_once(self, volunteers_client, service_headers, register, worker, db,
                                              today):
        ours = (await register(worker, id_number=ID_BORN_1990))["id"]
        days = [today - timedelta(days=d) for d in range(20)]
        rows = [hours_row(f"h-{i}", ours, days[i % 20], start_time=None, end_time=None, hours=1) for i in range(40)]
        for _ in range(2):
            await push(volunteers_client, service_headers, volunteer_hours={"created": rows})
        got = await stats(volunteers_client, service_headers, today)
        assert (got["volunteer.hours"], got["volunteer.person_times"]) == (40, 40)
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 40
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours_version") == 40
        assert await db.fetchval("SELECT sum(records) FROM volunteers.served_day") == 40
        assert await db.fetchval("SELECT count(*) FROM volunteers.audit_log WHERE record_table = 'service_hours' "
                                 "AND actor_id = 'device:tab-1'") == 40
