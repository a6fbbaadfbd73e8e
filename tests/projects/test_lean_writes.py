"""The lean write paths of attendance (service.attendance.add_many, used by REST's one attendee and by
tablet pushes) and of activities with their participants (service.activities.create_many, REST's create
and a push's batch) against the ORM paths they stand in for (service.attendance.add_one, and a push's rule
for a person recorded twice, keep_pushed_id; service.activities.create, and a push's one-by-one create):
the same inputs leave the same stored rows, occasions, audit rows and figures (daily_stat, ancestor_stat
kept by its trigger, person_day). Each path runs in a transaction of the service's own engine that is read
and then rolled back, so both start from the same database and may use the same client ids."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from starlette.requests import Request

from services.projects import sync as projects_sync
from services.projects.repository import attendance as attendance_repo
from services.projects.models import Activity, GroupSession
from services.projects.schemas.work import ActivityCreate, ActivityRead, AttendanceBatch, AttendeeInput
from services.projects.service import activities as activity_service
from services.projects.service import attendance as attendance_service
from services.projects.service.groups import project_for_work
from shared.rollup import live_sums_sql
from shared.contracts.lookup.client import Asker
from shared.crypto import open_row
from shared.db import raw_connection
from shared import clock
from shared.errors import InvalidInput
from shared.principals import Principal, Role, device_principal
from shared.records import IdInUse
from shared.sync import DEVICE_TOKEN_HEADER, SyncContext
from shared.repository import get_live
from tests.projects.conftest import stats
from tests.projects.test_sync import activity_row, created, device, project, push  # noqa: F401 (fixtures)

# Everything but the timestamps and the sync marker, which differ between any two writes.
STORED = {
    "attendance": "SELECT id, session_id, activity_id, station_id, station_path, beneficiary_id, populations, "
                  "person_no, created_by, updated_by, version, deleted_at IS NOT NULL AS deleted "
                  "FROM projects.attendance ORDER BY id",
    "group_session": "SELECT id, named_count, anonymous_count, version, updated_by, deleted_at "
                     "FROM projects.group_session ORDER BY id",
    "activity": "SELECT id, project_id, station_id, station_path, title, kind, place, held_on, starts_at, ends_at, "
                "named_count, anonymous_count, volunteer_ids, resources_yuan, photos, notes, create_digest, "
                "created_by, version, updated_by, deleted_at FROM projects.activity ORDER BY id",
    "audit_log": "SELECT actor_id, actor_role, device_id, address, request_id, operation, action, record_table, "
                 "record_id, station_path FROM projects.audit_log ORDER BY 8, 9, 7, 1, 2, 3, 4, 5, 6, 10",
    "daily_stat": "SELECT station_id, day, metric, population, station_path, value FROM projects.daily_stat "
                  "ORDER BY 1, 2, 3, 4",
    "ancestor_stat": "SELECT node_id, grain, metric, period, population, parent_id, value "
                     f"FROM ({live_sums_sql('projects')}) AS s WHERE value <> 0 ORDER BY 1, 2, 3, 4, 5",
    "person_day": "SELECT station_id, day, population, person, station_path, refs FROM projects.person_day "
                  "ORDER BY 1, 2, 3, 4",
}

SEALED = {"activity": Activity.__table__}


async def _written(projects_app, principal: Principal, work) -> dict[str, list[dict]]:
    """What `work(session)` leaves in the database, read inside its transaction, which is then rolled back."""
    db = projects_app.state.db
    async with db.write_sessions() as session:
        session.info["principal"] = principal  # the audit actor, as a push names its device
        await session.execute(text(db.write_guard))
        await work(session)
        await session.flush()
        conn = await raw_connection(session)
        # Sealed columns opened: each encryption of the same text differs.
        found = {name: [open_row(SEALED.get(name), r) if name in SEALED else dict(r) for r in await conn.fetch(sql)]
                 for name, sql in STORED.items()}
        await session.rollback()
    return found


def _adding(principal: Principal, asker: Asker, inputs: list[tuple[str, str, dict]], lean: bool, pushed: bool):
    """One path's adding of `inputs` ((attendance column, occasion id, attendee) triples). `pushed`: a push's
    rules (keep_pushed_ids)."""
    bodies = [(col, occasion_id, AttendeeInput.model_validate(body)) for col, occasion_id, body in inputs]

    async def work(session) -> None:
        if lean:
            conn = await raw_connection(session)
            occasions = await attendance_repo.lock_occasions(conn, principal, [(c, o) for c, o, _ in bodies])
            await attendance_service.add_many(session, asker, principal,
                                              [(occasions[(c, o)], body) for c, o, body in bodies],
                                              keep_pushed_ids=pushed)
            return
        for col, occasion_id, body in bodies:
            occasion = await get_live(session, attendance_repo.MODELS[col], occasion_id, principal, for_update=True)
            kept, _ = await attendance_service.add_one(session, asker, principal, occasion, body)
            if pushed and body.id and kept.id != body.id:
                await attendance_service.keep_pushed_id(session, principal, kept, body.id)

    return work


@pytest.fixture
async def occasions(projects, make_project, make_group, make_session, make_activity, register, worker):
    """A session (one anonymous attendee, and one person there already as att-0) and an activity of station 2,
    held today; three people: one in two populations, a child, an elder."""
    project = await make_project()
    group = await make_group(worker, project["id"])
    session = await make_session(worker, group["id"], anonymous_count=1)
    activity = await make_activity(worker, project["id"], anonymous_count=0)
    people = [await register(worker, populations=pops, name=f"居民{i}")
              for i, pops in enumerate([("elderly", "disabled"), ("children",), ("elderly",)])]
    r = await projects.post(f"/v1/groups/{group['id']}/sessions/{session['id']}/attendance", headers=worker,
                            json={"id": "att-0", "beneficiary_id": people[2]})
    assert r.status_code == 201, r.text
    return session["id"], activity["id"], people


def _inputs(session_id: str, activity_id: str, people: list[str]) -> list[tuple[str, str, dict]]:
    s, a = ("session_id", session_id), ("activity_id", activity_id)
    return [
        (*s, {"id": "att-1", "beneficiary_id": people[0]}),
        (*s, {"id": "att-2", "beneficiary_id": people[1]}),
        # The same person at another occasion that day: one person in person_day, with two attendances behind it.
        (*a, {"id": "att-3", "beneficiary_id": people[0]}),
        # Attending already (att-0): the row there answers; a push keeps its id as a tombstone.
        (*s, {"id": "att-4", "beneficiary_id": people[2]}),
        # Added earlier in the same batch (att-1): the same.
        (*s, {"id": "att-5", "beneficiary_id": people[0]}),
        # A retry of the second.
        (*s, {"id": "att-2", "beneficiary_id": people[1]}),
        (*a, {"id": "att-6", "beneficiary_id": people[1]}),
    ]


def _asker(projects_app, headers: dict) -> Asker:
    return Asker(projects_app.state.lookup, lambda: headers["Authorization"].removeprefix("Bearer "))


class TestLeanAgainstOrm:
    async def test_a_tablets_attendance(self, projects_app, occasions, worker):
        tablet = device_principal("tab-1", 2, "/1/2/")
        inputs = _inputs(*occasions)
        asker = _asker(projects_app, worker)
        orm = await _written(projects_app, tablet, _adding(tablet, asker, inputs, lean=False, pushed=True))
        lean = await _written(projects_app, tablet, _adding(tablet, asker, inputs, lean=True, pushed=True))
        assert [(r["id"], r["deleted"]) for r in orm["attendance"]] == [
            ("att-0", False), ("att-1", False), ("att-2", False), ("att-3", False), ("att-4", True), ("att-5", True),
            ("att-6", False)]
        assert [(r["named_count"], r["version"]) for r in orm["group_session"]] == [(3, 4)]
        assert {r["record_id"] for r in orm["audit_log"] if r["actor_id"] == "device:tab-1"} == {
            "att-1", "att-2", "att-3", "att-4", "att-5", "att-6", occasions[0], occasions[1]}
        assert [r for r in orm["person_day"] if r["refs"] == 2]
        for name in STORED:
            assert lean[name] == orm[name], name

    async def test_a_workers_attendance(self, projects_app, occasions, worker):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        inputs = _inputs(*occasions)
        asker = _asker(projects_app, worker)
        orm = await _written(projects_app, principal, _adding(principal, asker, inputs, lean=False, pushed=False))
        lean = await _written(projects_app, principal, _adding(principal, asker, inputs, lean=True, pushed=False))
        assert len(orm["attendance"]) == 5 and {r["created_by"] for r in orm["attendance"][1:]} == {"w2"}
        for name in STORED:
            assert lean[name] == orm[name], name


class TestReplaceLeanAgainstOrm:
    """The whole list set at once (PUT .../attendance, a session made with its attendees): its new attendees
    by the lean path's statements against the ORM's one by one."""

    async def test_a_whole_list(self, projects_app, occasions, worker):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        session_id, activity_id, people = occasions
        asker = _asker(projects_app, worker)
        lists = [(GroupSession, session_id, {"anonymous_count": 4, "attendees": [  # att-0 leaves
                     {"id": "att-1", "beneficiary_id": people[0]}, {"id": "att-2", "beneficiary_id": people[1]},
                     {"id": "att-9", "beneficiary_id": people[0]}]}),
                 (Activity, activity_id, {"attendees": [{"id": "att-3", "beneficiary_id": people[0]},
                                                        {"id": "att-4", "beneficiary_id": people[2]}]})]

        def replacing(lean: bool):
            async def work(session) -> None:
                for model, occasion_id, body in lists:
                    occasion = await get_live(session, model, occasion_id, principal, for_update=True)
                    await attendance_service.replace(session, asker, principal, occasion,
                                                     AttendanceBatch.model_validate(body), lean=lean)
            return work

        orm = await _written(projects_app, principal, replacing(lean=False))
        lean = await _written(projects_app, principal, replacing(lean=True))
        assert [(r["id"], r["deleted"]) for r in orm["attendance"]] == [
            ("att-0", True), ("att-1", False), ("att-2", False), ("att-3", False), ("att-4", False)]
        assert [(r["named_count"], r["anonymous_count"]) for r in orm["group_session"]] == [(2, 4)]
        for name in STORED:
            assert lean[name] == orm[name], name

    async def test_an_id_in_use_is_refused(self, projects_app, occasions, worker):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        session_id, _, people = occasions
        body = AttendanceBatch.model_validate({"attendees": [{"id": "att-0", "beneficiary_id": people[0]}]})

        async def work(session) -> None:
            occasion = await get_live(session, GroupSession, session_id, principal, for_update=True)
            await attendance_service.replace(session, _asker(projects_app, worker), principal, occasion, body)

        with pytest.raises(IdInUse):
            await _written(projects_app, principal, work)


def _attendance(i: int, person: str, **fields) -> dict:
    return {"id": f"att-{i}", "activity_id": "a-1", "beneficiary_id": person, **fields}


class TestLeanPush:
    """What the batched push adds to the one-by-one one: the rules hold for the whole batch."""

    async def test_an_occasion_out_of_scope_names_the_record_and_writes_nothing(
            self, push, activity_row, register, worker, sibling, sibling_head, make_project, make_activity, db):
        person = await register(worker)
        theirs = await make_activity(sibling, (await make_project(sibling_head))["id"])
        before = await db.fetchval("SELECT count(*) FROM projects.attendance")
        r = await push({**created("activities", activity_row()),
                        **created("attendances", _attendance(1, person),
                                  _attendance(2, person, activity_id=theirs["id"]))}, expect=403)
        assert r.json()["records"] == [{"table": "attendances", "id": "att-2"}]
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == before
        assert await db.fetchval("SELECT count(*) FROM projects.activity WHERE id = 'a-1'") == 0

    async def test_an_unknown_attendee_is_named_and_nothing_written(self, push, activity_row, register, worker,
                                                                   sibling, db):
        mine, theirs = await register(worker), await register(sibling)
        r = await push({**created("activities", activity_row()),
                        **created("attendances", _attendance(1, mine), _attendance(2, theirs),
                                  _attendance(3, theirs))}, expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.attendances.att-2.beneficiary_id"]
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0

    async def test_a_row_without_its_occasion_is_named(self, push, activity_row, register, worker, db):
        person = await register(worker)
        r = await push({**created("activities", activity_row()),
                        **created("attendances", _attendance(1, person), _attendance(2, person, activity_id=None))},
                       expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.attendances.att-2.session_id"]
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0

    async def test_one_id_for_two_people_is_refused(self, push, activity_row, register, worker, db):
        first, second = await register(worker), await register(worker, name="李明")
        r = await push({**created("activities", activity_row()),
                        **created("attendances", _attendance(1, first), _attendance(1, second))}, expect=409)
        assert r.json()["type"].endswith("id-in-use")
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0

    async def test_a_retried_push_counts_once(self, projects, push, activity_row, register, worker, service_headers,
                                              db):
        people = [await register(worker, populations=["elderly"], name=f"居民{i}") for i in range(30)]
        changes = {**created("activities", activity_row(anonymous_count=0)),
                   **created("attendances", *[_attendance(i, p) for i, p in enumerate(people)])}
        for _ in range(2):
            await push(changes, expect=204)
        a = (await projects.get("/v1/activities/a-1", headers=worker)).json()
        assert (a["named_count"], a["person_times"]) == (30, 30)
        got = await stats(projects, service_headers, metrics=["person_times.community"], group_by=["population"])
        assert got == {("person_times.community", "_all", None, None): 30,
                       ("person_times.community", "elderly", None, None): 30}
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 30
        assert await db.fetchval("SELECT count(*) FROM projects.audit_log WHERE record_table = 'attendance' "
                                 "AND actor_id = 'device:tab-1'") == 30
        persons = await db.fetchval("SELECT count(*) FROM projects.person_day WHERE population = '_all'")
        assert persons == 30


# ---------------------------------------------------------------- activities and their participants

@pytest.fixture
async def activity_inputs(make_project, register, worker, today):
    """Create bodies of activities of station 2 (three people: one in two populations, a child, an elder):
    participants listed twice and volunteers named twice, sealed notes, resources, another day, one with
    nobody named and no headcount, and a retry of the first."""
    project = await make_project()
    people = [await register(worker, populations=pops, name=f"居民{i}")
              for i, pops in enumerate([("elderly", "disabled"), ("children",), ("elderly",)])]
    first = {"id": "act-1", "project_id": project["id"], "title": "重阳节敬老活动", "kind": "festival", "place": "社区广场",
             "held_on": today.isoformat(), "starts_at": "09:00", "ends_at": "11:30", "anonymous_count": 5,
             "volunteer_ids": ["v-1", "v-2", "v-1"], "resources_yuan": "88.80", "photos": ["media:1"],
             "notes": "张奶奶行动不便，需上门接送",
             "attendees": [{"id": "p-1", "beneficiary_id": people[0]}, {"id": "p-2", "beneficiary_id": people[1]},
                           {"id": "p-3", "beneficiary_id": people[0]}]}
    return project["id"], people, [
        first,
        # The same person the next day, and at a station given (the caller's own).
        {"id": "act-2", "project_id": project["id"], "station_id": 2, "title": "健康义诊",
         "held_on": (today - timedelta(days=1)).isoformat(), "anonymous_count": 0,
         "attendees": [{"id": "p-4", "beneficiary_id": people[0]}, {"id": "p-5", "beneficiary_id": people[2]}]},
        {"id": "act-3", "project_id": project["id"], "title": "社区清洁", "held_on": today.isoformat(),
         "anonymous_count": 0},
        first,
    ]


def _creating(principal: Principal, asker: Asker, inputs: list[dict], lean: bool):
    """One path's creating of `inputs` (activity create bodies): REST's one at a time or a batch."""
    bodies = [ActivityCreate.model_validate(body) for body in inputs]

    async def work(session) -> None:
        projects = {b.project_id: await project_for_work(session, principal, b.project_id) for b in bodies}
        if lean:
            answers = await activity_service.create_many(session, asker, principal,
                                                         [(projects[b.project_id], b) for b in bodies])
            assert [(i, created) for i, created, _ in answers] == [
                ("act-1", True), ("act-2", True), ("act-3", True), ("act-1", False)]
            return
        for body in bodies:
            await activity_service.create(session, asker, principal, projects[body.project_id], body)

    return work


class TestActivitiesLeanAgainstOrm:
    @pytest.mark.parametrize("who", ["worker", "tablet"])
    async def test_activities_with_participants(self, projects_app, activity_inputs, worker, who):
        principal = (Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
                     if who == "worker" else device_principal("tab-1", 2, "/1/2/"))
        _, people, inputs = activity_inputs
        asker = _asker(projects_app, worker)
        orm = await _written(projects_app, principal, _creating(principal, asker, inputs, lean=False))
        lean = await _written(projects_app, principal, _creating(principal, asker, inputs, lean=True))
        # What the ORM path made, so that the comparison is of something.
        assert [(r["id"], r["named_count"], r["anonymous_count"], r["volunteer_ids"], r["version"])
                for r in orm["activity"]] == [("act-1", 2, 5, ["v-1", "v-2"], 1), ("act-2", 2, 0, [], 1),
                                              ("act-3", 0, 0, [], 1)]
        assert orm["activity"][0]["notes"] == "张奶奶行动不便，需上门接送"
        assert [(r["id"], r["activity_id"]) for r in orm["attendance"]] == [
            ("p-1", "act-1"), ("p-2", "act-1"), ("p-4", "act-2"), ("p-5", "act-2")]
        mine = [r for r in orm["audit_log"] if r["actor_id"] == principal.user_id]  # not the fixtures' writes
        assert {(r["record_table"], r["record_id"]) for r in mine} == {
            ("activity", "act-1"), ("activity", "act-2"), ("activity", "act-3"), ("attendance", "p-1"),
            ("attendance", "p-2"), ("attendance", "p-4"), ("attendance", "p-5")}
        figures = {(r["metric"], r["population"]): r["value"] for r in orm["daily_stat"]
                   if r["day"] == orm["activity"][0]["held_on"]}
        assert (figures[("activities", "_all")], figures[("person_times.community", "_all")],
                figures[("person_times.community", "elderly")], figures[("resources.linked_yuan", "_all")]) == (
            2, 7, 1, Decimal("88.80"))
        assert {r["person"] for r in orm["person_day"]} and len({r["day"] for r in orm["person_day"]}) == 2
        for name in STORED:
            assert lean[name] == orm[name], name

    async def test_an_unknown_participant_or_volunteer_is_named_by_both(self, projects_app, activity_inputs, worker,
                                                                       sibling, register):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        project_id, people, _ = activity_inputs
        theirs = await register(sibling)
        asker = _asker(projects_app, worker)
        for fields, field in (({"attendees": [{"beneficiary_id": people[0]}, {"beneficiary_id": theirs}]},
                               "attendees[1].beneficiary_id"),
                              ({"volunteer_ids": ["v-1", "ghost"]}, "volunteer_ids[1]")):
            body = {"id": "act-9", "project_id": project_id, "title": "讲座", "held_on": clock.today().isoformat(),
                    **fields}
            for lean in (False, True):
                with pytest.raises(InvalidInput) as caught:
                    await _written(projects_app, principal, _creating_one(principal, asker, body, lean))
                assert [e["field"] for e in caught.value.errors] == [field], lean


def _creating_one(principal: Principal, asker: Asker, body: dict, lean: bool, answers: list | None = None):
    """One activity created as REST's route creates it (lean: `answer=True`, the row read back by its INSERT),
    its answer as the route shows it appended to `answers`."""
    activity = ActivityCreate.model_validate(body)

    async def work(session) -> None:
        project = await project_for_work(session, principal, activity.project_id)
        if lean:
            [(_, _, read)] = await activity_service.create_many(session, asker, principal, [(project, activity)],
                                                                answer=True)
        else:
            read, _ = await activity_service.create(session, asker, principal, project, activity)
            await session.flush()
        if answers is not None:
            answers.append(ActivityRead.model_validate(read).model_dump(exclude={"created_at", "updated_at"}))

    return work


class TestActivityRestLeanAgainstOrm:
    async def test_one_activity_and_its_answer(self, projects_app, activity_inputs, worker):
        principal = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        _, _, inputs = activity_inputs
        asker = _asker(projects_app, worker)
        answers: list[dict] = []
        orm = await _written(projects_app, principal, _creating_one(principal, asker, inputs[0], False, answers))
        lean = await _written(projects_app, principal, _creating_one(principal, asker, inputs[0], True, answers))
        assert (answers[0]["person_times"], answers[0]["named_count"], answers[0]["notes"]) == (
            7, 2, "张奶奶行动不便，需上门接送")
        assert answers[1] == answers[0]
        for name in STORED:
            assert lean[name] == orm[name], name


def _push_context(projects_app, principal: Principal, device_token: str) -> SyncContext:
    """What the push endpoint hands a table's adapters: the device, and its request (the device's token, which
    the lookups are made with)."""
    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "app": projects_app, "method": "POST", "path": "/internal/sync/push",
             "query_string": b"", "headers": [(DEVICE_TOKEN_HEADER.lower().encode(), device_token.encode())]}
    return SyncContext(principal, Request(scope, receive))


class TestActivitiesPushLeanAgainstOrm:
    """A push's new activities: the batch (ACTIVITIES.create_many) against the one-by-one create of each row
    (ACTIVITIES.create), through the sync adapters, from the same wire rows."""

    async def test_a_batch_push(self, projects_app, activity_row, device, today):
        tablet = device_principal("tab-1", 2, "/1/2/")
        rows = [activity_row("a-1", notes="带血压计"),
                activity_row("a-2", station_id=None, volunteer_ids='["v-2","v-1"]', resources_yuan=None,
                             held_on=(today - timedelta(days=2)).isoformat()),
                activity_row("a-3", anonymous_count=0, volunteer_ids="[]", photos='["p/1.jpg"]', kind=None)]

        def pushing(lean: bool):
            async def work(session) -> None:
                ctx = _push_context(projects_app, tablet, device)
                if lean:
                    await projects_sync.ACTIVITIES.create_many(session, ctx, rows)
                    return
                for row in rows:
                    await projects_sync.ACTIVITIES.create(session, ctx, row)
            return work

        orm = await _written(projects_app, tablet, pushing(lean=False))
        lean = await _written(projects_app, tablet, pushing(lean=True))
        assert [(r["id"], r["anonymous_count"], r["created_by"]) for r in orm["activity"]] == [
            ("a-1", 10, "device:tab-1"), ("a-2", 10, "device:tab-1"), ("a-3", 0, "device:tab-1")]
        assert [r["record_id"] for r in orm["audit_log"] if r["device_id"] == "tab-1"] == ["a-1", "a-2", "a-3"]
        for name in STORED:
            assert lean[name] == orm[name], name


class TestActivitiesLeanPush:
    """What the batched push of activities adds to the one-by-one one: the rules hold for the whole batch."""

    async def test_a_project_out_of_scope_names_the_record_and_writes_nothing(self, push, activity_row, sibling_head,
                                                                            make_project, db):
        theirs = await make_project(sibling_head)
        r = await push(created("activities", activity_row("a-1"), activity_row("a-2", project_id=theirs["id"])),
                       expect=403)
        assert r.json()["records"] == [{"table": "activities", "id": "a-2"}]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

    async def test_a_station_out_of_scope_names_the_record(self, push, activity_row, db):
        r = await push(created("activities", activity_row("a-1"), activity_row("a-2", station_id=3)), expect=403)
        assert r.json()["records"] == [{"table": "activities", "id": "a-2"}]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

    async def test_an_unknown_volunteer_is_named_and_nothing_written(self, push, activity_row, db):
        r = await push(created("activities", activity_row("a-1"), activity_row("a-2", volunteer_ids='["ghost"]')),
                       expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.activities.a-2.volunteer_ids[0]"]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.daily_stat") == 0

    async def test_one_volunteer_lookup_for_the_whole_push(self, projects, push, activity_row, monkeypatch):
        lookup = projects.app.state.lookup
        calls = []
        real = lookup.find

        async def counted(token, path, ids, **kw):
            calls.append((path, sorted(ids)))
            return await real(token, path, ids, **kw)

        monkeypatch.setattr(lookup, "find", counted)
        await push(created("activities", *[activity_row(f"a-{i}", volunteer_ids='["v-1","v-2"]') for i in range(5)]),
                   expect=204)
        assert calls == [("/v1/volunteers/lookup", ["v-1", "v-2"])]

    async def test_a_retried_push_counts_once(self, projects, push, activity_row, register, worker, service_headers,
                                              db):
        people = [await register(worker, populations=["elderly"], name=f"居民{i}") for i in range(3)]
        changes = {**created("activities", *[activity_row(f"a-{i}", anonymous_count=2) for i in range(20)]),
                   **created("attendances", *[{"id": f"att-{i}", "activity_id": "a-0", "beneficiary_id": p}
                                              for i, p in enumerate(people)])}
        for _ in range(2):
            await push(changes, expect=204)
        a = (await projects.get("/v1/activities/a-0", headers=worker)).json()
        assert (a["named_count"], a["person_times"], a["version"]) == (3, 5, 4)
        got = await stats(projects, service_headers, metrics=["activities", "person_times.community"],
                          group_by=["population"])
        assert got == {("activities", "_all", None, None): 20, ("person_times.community", "_all", None, None): 43,
                       ("person_times.community", "elderly", None, None): 3}
        assert await db.fetchval("SELECT count(*) FROM projects.audit_log WHERE record_table = 'activity' "
                                 "AND action = 'create' AND actor_id = 'device:tab-1'") == 20


class TestActivityCreateByRest:
    """REST's create, now the lean path: a client id makes a retry safe; the answer is the ORM's."""

    async def test_a_retry_answers_the_activity_made(self, projects, make_project, make_activity, register, worker,
                                                     service_headers, db):
        project = await make_project()
        person = await register(worker)
        body = {"id": "act-1", "notes": "需要轮椅", "attendees": [{"beneficiary_id": person}]}
        first = await make_activity(worker, project["id"], **body)
        r = await projects.post("/v1/activities", headers=worker, json={
            "project_id": project["id"], "title": "重阳节敬老活动", "kind": "festival", "place": "社区广场",
            "held_on": first["held_on"], "anonymous_count": 10, **body})
        assert r.status_code == 200 and r.json() == first, r.text
        assert (r.headers["etag"], r.headers["location"]) == ('"1"', "/v1/activities/act-1")
        got = (await projects.get("/v1/activities/act-1", headers=worker)).json()
        assert got == first and (first["person_times"], first["notes"]) == (11, "需要轮椅")
        assert await db.fetchval("SELECT notes FROM projects.activity") != "需要轮椅"  # sealed at rest
        r = await projects.post("/v1/activities", headers=worker, json={
            "project_id": project["id"], "title": "另一个活动", "held_on": first["held_on"], "id": "act-1"})
        assert r.status_code == 409 and r.json()["type"].endswith("id-in-use"), r.text
        assert sum((await stats(projects, service_headers, metrics=["activities"])).values()) == 1
