"""Offline sync of groups, sessions, activities and attendance: the service half of WatermelonDB's
protocol (/internal/sync/pull and /push), called directly with the service token as the gateway
would, the gateway's `X-Device-Token` (the tablet's own token, for attendee checks) included."""

import json
from datetime import timedelta

import pytest

from shared.principals import Principal, Role
from shared.sync import DEVICE_TOKEN_HEADER
from tests.fixtures.calls import with_etag
from tests.fixtures.people import ID_BORN_1970
from tests.fixtures.sync import pulled, settle
from tests.projects.conftest import stats

OURS = "/1/2/"


@pytest.fixture
def pull(projects, service_headers, db):
    async def fetch(since=None, path=OURS, **query):
        """(cursor, {table: {id: row}}, {table: [deleted ids]}) from the NDJSON stream."""
        await settle(db)
        r = await projects.post("/internal/sync/pull", headers=service_headers,
                                json={"station_path": path, "since": since, **query})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/x-ndjson")
        return pulled(r)

    return fetch


@pytest.fixture
def device(signer):
    """The tablet's own access token (what the gateway forwards in X-Device-Token)."""
    tablet = Principal(user_id="device:tab-1", role=Role.social_worker, station_id=2, station_path=OURS,
                       device_id="tab-1")
    return signer.access_token(tablet)


@pytest.fixture
def push(projects, service_headers, device):
    async def send(changes, since=None, check_only=False, path=OURS, station_id=2, device_token=None,
                   expect=None):
        headers = dict(service_headers)
        if device_token is not False:
            headers[DEVICE_TOKEN_HEADER] = device_token or device
        body = {"station_id": station_id, "station_path": path, "device_id": "tab-1", "since": since,
                "check_only": check_only, "changes": changes}
        r = await projects.post("/internal/sync/push", headers=headers, json=body)
        if expect is not None:
            assert r.status_code == expect, r.text
        return r

    return send


def created(table, *rows):
    return {table: {"created": list(rows), "updated": [], "deleted": []}}


def updated(table, *rows):
    return {table: {"created": [], "updated": list(rows), "deleted": []}}


def deleted(table, *ids):
    return {table: {"created": [], "updated": [], "deleted": list(ids)}}


@pytest.fixture
async def project(make_project):
    return await make_project()


@pytest.fixture
def group_row(project, today):
    def make(id="g-1", **fields):
        return {"id": id, "project_id": project["id"], "station_id": 2, "title": "长者防诈骗小组",
                "kind": None, "target_population": "elderly", "planned_sessions": 6, "stage": "forming",
                "starts_on": today.isoformat(), "members": "[]", **fields}

    return make


@pytest.fixture
def activity_row(project, today):
    def make(id="a-1", **fields):
        return {"id": id, "project_id": project["id"], "station_id": 2, "title": "重阳节敬老活动",
                "kind": "festival", "place": "社区广场", "held_on": today.isoformat(), "starts_at": "09:30",
                "ends_at": None, "anonymous_count": 10, "volunteer_ids": '["v-1"]', "resources_yuan": 350.5,
                "photos": "[]", "notes": "", **fields}

    return make


def session_row(today, id="s-1", group_id="g-1", **fields):
    return {"id": id, "group_id": group_id, "held_on": today.isoformat(), "starts_at": "14:00:00",
            "topic": "认识电信诈骗", "anonymous_count": 3, "notes": None, **fields}


class TestPull:
    async def test_first_pull_serves_the_subtree_with_wire_values(self, pull, projects, project, make_project,
                                                                   make_group, make_session, make_activity,
                                                                   register, worker, sibling, sibling_head,
                                                                   service_headers, today):
        person = await register(worker, populations=["elderly", "disabled"])
        group = await make_group(worker, project["id"], members=[person], target_population="elderly")
        session = await make_session(worker, group["id"], starts_at="09:30", anonymous_count=2,
                                     attendees=[{"id": "att-1", "beneficiary_id": person}])
        activity = await make_activity(worker, project["id"], resources_yuan="120.50", photos=["p/1.jpg"])
        theirs = await make_group(sibling, (await make_project(sibling_head))["id"])

        cursor, rows, gone = await pull()
        assert cursor.isdigit() and gone == {}
        assert set(rows["groups"]) == {group["id"]} and theirs["id"] not in rows["groups"]
        g = rows["groups"][group["id"]]
        assert g == {"id": group["id"], "project_id": project["id"], "station_id": 2, "title": "长者防诈骗小组",
                     "kind": None, "target_population": "elderly", "planned_sessions": None,
                     "stage": "preparation", "starts_on": today.isoformat(), "members": json.dumps([person]),
                     "created_at": g["created_at"], "updated_at": g["updated_at"]}
        assert isinstance(g["created_at"], int) and g["created_at"] > 1_700_000_000_000
        s = rows["group_sessions"][session["id"]]
        assert (s["group_id"], s["project_id"], s["held_on"], s["starts_at"], s["anonymous_count"],
                s["named_count"]) == (group["id"], project["id"], today.isoformat(), "09:30", 2, 1)
        a = rows["activities"][activity["id"]]
        assert (a["resources_yuan"], a["photos"], a["volunteer_ids"], a["named_count"]) == (120.5, '["p/1.jpg"]',
                                                                                            "[]", 0)
        att = rows["attendances"]["att-1"]
        assert att == {"id": "att-1", "session_id": session["id"], "activity_id": None, "beneficiary_id": person,
                       "station_id": 2, "populations": '["elderly","disabled"]',
                       "created_at": att["created_at"], "updated_at": att["updated_at"]}
        # RecordMixin internals never travel.
        assert not {"station_path", "version", "create_digest", "created_by", "deleted_at"} & set(g)
        # The sibling's pull has its group only.
        _, theirs_rows, _ = await pull(path="/1/3/")
        assert set(theirs_rows) == {"groups"} and set(theirs_rows["groups"]) == {theirs["id"]}

    async def test_since_serves_later_writes_and_tombstones(self, pull, projects, project, make_group, make_session,
                                                            make_activity, worker, service_headers):
        kept = await make_group(worker, project["id"])
        activity = await make_activity(worker, project["id"])
        cursor, rows, _ = await pull()
        assert set(rows) == {"groups", "activities"}

        _, nothing, gone = await pull(since=cursor)
        assert nothing == {} and gone == {}
        r = await projects.delete(f"/v1/activities/{activity['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        later = await make_group(worker, project["id"], title="亲子沟通小组")
        cursor2, rows, gone = await pull(since=cursor)
        assert set(rows) == {"groups"} and set(rows["groups"]) == {later["id"]} and kept["id"] not in rows["groups"]
        assert gone == {"activities": [activity["id"]]}
        assert (await pull(since=cursor2))[1:] == ({}, {})


class TestPushCreate:
    async def test_pushed_records_are_served_by_rest_and_counted(self, pull, projects, push, group_row, activity_row,
                                                                 register, worker, service_headers, today):
        person = await register(worker, populations=["elderly"])
        # Children listed first: the service applies parents first whatever the push's order.
        changes = {**created("attendances", {"id": "att-1", "session_id": "s-1", "beneficiary_id": person},
                             {"id": "att-2", "activity_id": "a-1", "beneficiary_id": person}),
                   **created("group_sessions", session_row(today)),
                   **created("activities", activity_row()),
                   **created("groups", group_row(members=json.dumps([person])))}
        await push(changes, expect=204)

        g = (await projects.get("/v1/groups/g-1", headers=worker)).json()
        assert (g["title"], g["stage"], g["members"], g["station_id"], g["created_by"]) == (
            "长者防诈骗小组", "forming", [person], 2, "device:tab-1")
        s = (await projects.get("/v1/groups/g-1/sessions/s-1", headers=worker)).json()
        assert (s["starts_at"], s["named_count"], s["anonymous_count"], s["person_times"]) == ("14:00:00", 1, 3, 4)
        a = (await projects.get("/v1/activities/a-1", headers=worker)).json()
        assert (a["resources_yuan"], a["volunteer_ids"], a["notes"], a["person_times"]) == ("350.50", ["v-1"],
                                                                                           None, 11)
        listed = (await projects.get("/v1/activities/a-1/attendance", headers=worker)).json()
        assert [(i["id"], i["populations"]) for i in listed["items"]] == [("att-2", ["elderly"])]

        got = await stats(projects, service_headers, group_by=["population"])
        assert got[("groups", "_all", None, None)] == 1 and got[("groups", "elderly", None, None)] == 1
        assert got[("group_sessions", "_all", None, None)] == 1
        assert got[("person_times.group", "_all", None, None)] == 4
        assert got[("person_times.group", "elderly", None, None)] == 1
        assert got[("activities", "_all", None, None)] == 1
        assert got[("person_times.community", "_all", None, None)] == 11
        # The pulled records now say what the service made of them (named counts, populations).
        _, rows, _ = await pull()
        assert rows["group_sessions"]["s-1"]["named_count"] == 1
        assert rows["attendances"]["att-1"]["populations"] == '["elderly"]'

    async def test_a_repeated_create_is_an_update(self, pull, projects, push, group_row, service_headers, db):
        await push(created("groups", group_row()), expect=204)
        cursor, _, _ = await pull()
        await push(created("groups", group_row(title="长者智能手机小组")), since=cursor, expect=204)
        assert await db.fetchrow("SELECT title, version FROM projects.group") == ("长者智能手机小组", 2)
        got = await stats(projects, service_headers, metrics=["groups"])
        assert sum(got.values()) == 1

    async def test_check_only_writes_nothing(self, projects, push, group_row, activity_row, register, worker,
                                             service_headers, today, db):
        person = await register(worker)
        changes = {**created("groups", group_row()), **created("group_sessions", session_row(today)),
                   **created("activities", activity_row()),
                   **created("attendances", {"id": "att-1", "activity_id": "a-1", "beneficiary_id": person})}
        await push(changes, check_only=True, expect=200)
        for table in ("group", "group_session", "activity", "attendance"):
            assert await db.fetchval(f"SELECT count(*) FROM projects.{table}") == 0
        assert await stats(projects, service_headers) == {}
        # A dry run still applies every rule.
        r = await push(created("activities", activity_row(title="")), check_only=True, expect=422)
        assert r.json()["errors"][0]["field"] == "changes.activities.a-1.title"

    async def test_nulls_and_empty_texts_take_the_rest_defaults(self, push, group_row, today, db):
        await push(created("groups", group_row(station_id=None, stage=None, starts_on=None, kind="",
                                               members="")), expect=204)
        got = await db.fetchrow("SELECT station_id, stage, starts_on, kind, members FROM projects.group")
        assert tuple(got) == (2, "preparation", today, None, [])

    async def test_unknown_columns_bookkeeping_and_readonly_are_ignored(self, push, activity_row, today, db):
        row = {**activity_row(), "_status": "created", "_changed": "title,place", "colour": "red",
               "named_count": 99, "created_at": 5, "station_path": "/9/"}
        await push(created("activities", row), expect=204)
        assert await db.fetchrow("SELECT named_count, station_path, title FROM projects.activity") == (
            0, "/1/2/", "重阳节敬老活动")

    async def test_outside_the_device_subtree_is_403_naming_the_record(self, push, group_row, make_project,
                                                                       make_group, sibling_head, sibling, today,
                                                                       db):
        r = await push(created("groups", group_row(id="g-far", station_id=3)), expect=403)
        assert r.json()["type"].endswith("sync-out-of-scope")
        assert r.json()["records"] == [{"table": "groups", "id": "g-far"}]
        # A parent the device cannot see: a sibling's group, or a sibling's project.
        theirs = await make_project(sibling_head)
        their_group = await make_group(sibling, theirs["id"])
        r = await push(created("group_sessions", session_row(today, id="s-far", group_id=their_group["id"])),
                       expect=403)
        assert r.json()["records"] == [{"table": "group_sessions", "id": "s-far"}]
        r = await push(created("groups", group_row(id="g-x", project_id=theirs["id"])), expect=403)
        assert r.json()["records"] == [{"table": "groups", "id": "g-x"}]
        assert await db.fetchval("SELECT count(*) FROM projects.group") == 1  # the sibling's own

    async def test_a_bad_value_is_422_naming_the_field(self, push, group_row, activity_row, today, db):
        r = await push(created("groups", group_row(planned_sessions=0)), expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.groups.g-1.planned_sessions"]
        r = await push(created("groups", group_row(members="not json")), expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.groups.g-1.members"]
        far = (today + timedelta(days=400)).isoformat()
        r = await push(created("activities", activity_row(held_on=far)), expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.activities.a-1.held_on"]
        r = await push(created("activities", activity_row(held_on=20260101)), expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.activities.a-1.held_on"]
        assert await db.fetchval("SELECT count(*) FROM projects.group") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0


class TestPushUpdate:
    async def test_changed_on_the_server_since_the_pull_is_409_and_writes_nothing(
            self, pull, projects, push, group_row, service_headers, worker, db):
        await push(created("groups", group_row()), expect=204)
        cursor, _, _ = await pull()
        r = await projects.patch("/v1/groups/g-1", json={"title": "改过的标题"}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        r = await push({**updated("groups", group_row(title="平板上的标题")),
                        **created("activities", {"id": "a-new"})}, since=cursor, expect=409)
        assert r.json()["type"].endswith("sync-conflict")
        assert r.json()["records"] == [{"table": "groups", "id": "g-1"}]
        assert await db.fetchrow("SELECT title, version FROM projects.group") == ("改过的标题", 2)
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

    async def test_a_retried_update_converges_and_writes_once(self, pull, projects, push, group_row, activity_row,
                                                             service_headers, today, db):
        await push({**created("groups", group_row()), **created("group_sessions", session_row(today)),
                    **created("activities", activity_row())}, expect=204)
        cursor, rows, _ = await pull()
        # The tablet sends whole rows back, as served (compact JSON, HH:MM, floats) with its edits.
        session = {**rows["group_sessions"]["s-1"], "anonymous_count": 8, "_status": "updated"}
        activity = {**rows["activities"]["a-1"], "starts_at": "10:00", "volunteer_ids": '["v-1", "v-2"]'}
        changes = {**updated("group_sessions", session), **updated("activities", activity)}
        await push(changes, since=cursor, expect=204)
        versions = await db.fetch("SELECT id, version, change_xid::text FROM projects.group_session "
                                  "UNION ALL SELECT id, version, change_xid::text FROM projects.activity ORDER BY 1")
        await push(changes, since=cursor, expect=204)  # the response was lost: the same again
        assert await db.fetch("SELECT id, version, change_xid::text FROM projects.group_session UNION ALL "
                              "SELECT id, version, change_xid::text FROM projects.activity ORDER BY 1") == versions
        assert [v["version"] for v in versions] == [2, 2]
        a = await db.fetchrow("SELECT starts_at::text, volunteer_ids FROM projects.activity")
        assert tuple(a) == ("10:00:00", ["v-1", "v-2"])
        got = await stats(projects, service_headers, metrics=["person_times.group"])
        assert sum(got.values()) == 8

    async def test_the_group_or_person_of_a_record_cannot_change(self, pull, projects, push, group_row, register, worker,
                                                                 service_headers, today):
        person, other = await register(worker), await register(worker, name="李秀英")
        await push({**created("groups", group_row()), **created("group_sessions", session_row(today)),
                    **created("attendances", {"id": "att-1", "session_id": "s-1", "beneficiary_id": person})},
                   expect=204)
        cursor, rows, _ = await pull()
        r = await push(updated("attendances", {**rows["attendances"]["att-1"], "beneficiary_id": other}),
                       since=cursor, expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.attendances.att-1.beneficiary_id"]
        r = await push(updated("groups", {**rows["groups"]["g-1"], "project_id": "elsewhere"}), since=cursor,
                       expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.groups.g-1.project_id"]


class TestPushDelete:
    async def test_unknown_ids_are_ignored(self, push):
        await push({**deleted("groups", "nope"), **deleted("attendances", "nope-either")}, expect=204)

    async def test_a_group_and_its_sessions_deleted_together_count_back_once(self, pull, projects, push, group_row,
                                                                            register, worker, service_headers,
                                                                            today, db):
        person = await register(worker)
        await push({**created("groups", group_row()), **created("group_sessions", session_row(today)),
                    **created("attendances", {"id": "att-1", "session_id": "s-1", "beneficiary_id": person})},
                   expect=204)
        cursor, _, _ = await pull()
        # The session's edit comes after its group's delete in the same push: deleted stays deleted.
        await push({**deleted("groups", "g-1"), **updated("group_sessions", session_row(today, topic="改")),
                    **deleted("attendances", "att-1")}, since=cursor, expect=204)
        assert all(v == 0 for v in (await stats(projects, service_headers)).values())
        _, rows, gone = await pull(since=cursor)
        assert rows == {} and gone == {"groups": ["g-1"], "group_sessions": ["s-1"], "attendances": ["att-1"]}
        assert (await projects.get("/v1/groups/g-1", headers=worker)).status_code == 404

    async def test_an_attendance_deleted_takes_its_count_back(self, pull, projects, push, activity_row, register, worker,
                                                              service_headers):
        person = await register(worker)
        await push({**created("activities", activity_row()),
                    **created("attendances", {"id": "att-1", "activity_id": "a-1", "beneficiary_id": person})},
                   expect=204)
        cursor, _, _ = await pull()
        await push(deleted("attendances", "att-1"), since=cursor, expect=204)
        a = (await projects.get("/v1/activities/a-1", headers=worker)).json()
        assert (a["named_count"], a["person_times"]) == (0, 10)
        got = await stats(projects, service_headers, metrics=["person_times.community"])
        assert sum(got.values()) == 10


class TestAttendeeChecks:
    async def test_an_attendee_outside_the_device_scope_is_named(self, push, activity_row, register, sibling, db):
        theirs = await register(sibling)
        r = await push({**created("activities", activity_row()),
                        **created("attendances", {"id": "att-1", "activity_id": "a-1", "beneficiary_id": theirs})},
                       expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.attendances.att-1.beneficiary_id"]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

    async def test_people_need_the_device_token_records_without_people_do_not(self, push, activity_row,
                                                                              register, worker, token_for, db):
        person = await register(worker)
        rows = {**created("activities", activity_row()),
                **created("attendances", {"id": "att-1", "activity_id": "a-1", "beneficiary_id": person})}
        r = await push(rows, device_token=False, expect=401)
        assert r.json()["type"].endswith("device-token-required") and r.json()["detail"].startswith("Checking")
        # A token of another station's worker is not the device's.
        r = await push(rows, device_token=token_for("social_worker", 3, "/1/3/")["Authorization"][7:], expect=401)
        assert "not the pushing device's" in r.json()["detail"]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0
        await push(created("activities", activity_row(volunteer_ids="[]")), device_token=False, expect=204)

    async def test_a_volunteer_outside_the_device_scope_is_named(self, push, activity_row, volunteers_client,
                                                                  sibling, db):
        r = await volunteers_client.post("/v1/volunteers", headers=sibling,
                                         json={"id": "v-3", "name": "别站志愿者", "id_number": ID_BORN_1970})
        assert r.status_code == 201, r.text
        r = await push(created("activities", activity_row(volunteer_ids='["v-1", "v-3"]')), expect=422)
        assert [e["field"] for e in r.json()["errors"]] == ["changes.activities.a-1.volunteer_ids[1]"]
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

    async def test_one_lookup_for_the_whole_push(self, projects, push, activity_row, register, worker, monkeypatch):
        people = [await register(worker, name=f"居民{i}") for i in range(4)]
        lookup = projects.app.state.lookup
        calls = []
        real = lookup.find

        async def counted(token, path, ids, **kw):
            if path == "/v1/beneficiaries/lookup":
                calls.append(list(ids))
            return await real(token, path, ids, **kw)

        monkeypatch.setattr(lookup, "find", counted)
        await push({**created("activities", activity_row()),
                    **created("attendances", *[{"id": f"att-{i}", "activity_id": "a-1", "beneficiary_id": p}
                                               for i, p in enumerate(people)])}, expect=204)
        assert len(calls) == 1 and sorted(calls[0]) == sorted(people)

    async def test_the_same_person_from_two_tablets_counts_once_and_converges(self, pull, projects, push, activity_row,
                                                                              register, worker, service_headers,
                                                                              db):
        person = await register(worker)
        await push({**created("activities", activity_row()),
                    **created("attendances", {"id": "att-tab1", "activity_id": "a-1", "beneficiary_id": person})},
                   expect=204)
        cursor, _, _ = await pull()
        # The second tablet recorded the same person at the same activity offline.
        await push(created("attendances", {"id": "att-tab2", "activity_id": "a-1", "beneficiary_id": person}),
                   since=cursor, expect=204)
        a = (await projects.get("/v1/activities/a-1", headers=worker)).json()
        assert a["named_count"] == 1
        got = await stats(projects, service_headers, metrics=["person_times.community"])
        assert sum(got.values()) == 11
        # Its next pull tells it to drop its copy.
        _, rows, gone = await pull(since=cursor)
        assert gone == {"attendances": ["att-tab2"]} and "attendances" not in rows
