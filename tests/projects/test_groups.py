"""Groups and their sessions: members checked with casework, dates inside the project period,
counts that follow every change."""

from datetime import timedelta

from tests.fixtures.calls import with_etag
from tests.projects.conftest import stats


class TestCreateGroup:
    async def test_created_with_checked_members_and_counted(self, projects, make_project, make_group, register,
                                                            worker, service_headers, db):
        project = await make_project()
        members = [await register(worker), await register(worker, name="李秀兰")]
        group = await make_group(worker, project["id"], members=members + members[:1], target_population="elderly",
                                 planned_sessions=6, kind="education")
        assert group["members"] == members and group["stage"] == "preparation" and group["station_id"] == 2
        got = await stats(projects, service_headers, metrics=["groups"], group_by=["population"])
        assert got == {("groups", "_all", None, None): 1, ("groups", "elderly", None, None): 1}
        r = await projects.get(f"/v1/groups/{group['id']}", headers=worker)
        assert r.status_code == 200 and r.json() == group

    async def test_unknown_or_out_of_scope_member_is_named(self, projects, make_project, make_group, register,
                                                         worker, sibling, db):
        project = await make_project()
        mine, theirs = await register(worker), await register(sibling)
        r = await make_group(worker, project["id"], expect=422, members=[mine, theirs, "no-such-person"])
        assert [e["field"] for e in r["errors"]] == ["members[1]", "members[2]"]
        assert r["type"].endswith("unknown-beneficiary")
        assert await db.fetchval("SELECT count(*) FROM projects.\"group\"") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.daily_stat") == 0

    async def test_project_and_station_rules(self, projects, make_project, make_group, worker, room_worker,
                                             sibling, official, period):
        project = await make_project()
        room = await make_group(room_worker, project["id"])
        assert room["station_id"] == 4
        r = await make_group(sibling, project["id"], expect=422)
        assert r["errors"][0]["field"] == "project_id"
        r = await make_group(worker, project["id"], expect=422, starts_on=(period[1] + timedelta(days=1)).isoformat())
        assert r["errors"][0]["field"] == "starts_on"
        assert (await projects.post("/v1/groups", headers=official,
                                    json={"project_id": project["id"], "title": "x"})).status_code == 404
        assert (await projects.get(f"/v1/groups/{room['id']}", headers=sibling)).status_code == 404
        assert (await projects.get(f"/v1/groups/{room['id']}", headers=official)).status_code == 404

    async def test_retry_answers_the_same_group(self, make_project, make_group, worker, db):
        project = await make_project()
        first = await make_group(worker, project["id"], id="tab-g1")
        assert await make_group(worker, project["id"], id="tab-g1", expect=200) == first
        assert await db.fetchval("SELECT count(*) FROM projects.\"group\"") == 1


class TestUpdateGroup:
    async def test_if_match_members_and_counts(self, projects, make_project, make_group, make_session, register,
                                               worker, sibling, service_headers):
        project = await make_project()
        group = await make_group(worker, project["id"])
        await make_session(worker, group["id"])
        url = f"/v1/groups/{group['id']}"
        assert (await projects.patch(url, json={"stage": "forming"}, headers=worker)).status_code == 428
        theirs = await register(sibling)
        r = await projects.patch(url, json={"members": [theirs]}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "members[0]"
        r = await projects.patch(url, json={"stage": "forming", "target_population": "children"},
                                 headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["stage"] == "forming" and r.headers["etag"] == '"2"'
        got = await stats(projects, service_headers, metrics=["groups", "group_sessions"], group_by=["population"])
        assert got[("groups", "children", None, None)] == 1 and got[("group_sessions", "children", None, None)] == 1
        assert ("groups", "elderly", None, None) not in got


class TestDeleteGroup:
    async def test_takes_sessions_attendance_and_counts_back(self, projects, make_project, make_group, make_session,
                                                             register, worker, service_headers, db):
        project = await make_project()
        person = await register(worker)
        group = await make_group(worker, project["id"], members=[person])
        await make_session(worker, group["id"], anonymous_count=3, attendees=[{"beneficiary_id": person}])
        r = await projects.delete(f"/v1/groups/{group['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        assert await stats(projects, service_headers) == {}
        assert await db.fetchval("SELECT count(*) FROM projects.attendance WHERE deleted_at IS NULL") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.group_session WHERE deleted_at IS NULL") == 0
        assert (await projects.get(f"/v1/groups/{group['id']}", headers=worker)).status_code == 404


class TestSessions:
    async def test_record_list_change_delete(self, projects, make_project, make_group, make_session, register,
                                             worker, service_headers, today):
        project = await make_project()
        person = await register(worker, populations=["elderly", "elderly_alone"])
        group = await make_group(worker, project["id"], members=[person])
        session = await make_session(worker, group["id"], id="tab-s1", anonymous_count=2,
                                     attendees=[{"beneficiary_id": person}])
        assert (session["named_count"], session["anonymous_count"], session["person_times"]) == (1, 2, 3)
        assert session["version"] == 1
        again = await make_session(worker, group["id"], id="tab-s1", anonymous_count=2,
                                   attendees=[{"beneficiary_id": person}], expect=200)
        assert again["id"] == session["id"]
        base = f"/v1/groups/{group['id']}/sessions"
        assert [s["id"] for s in (await projects.get(base, headers=worker)).json()["items"]] == [session["id"]]

        moved = (today - timedelta(days=7)).isoformat()
        url = f"{base}/{session['id']}"
        r = await projects.patch(url, json={"held_on": moved, "anonymous_count": 5}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["person_times"] == 6
        got = await stats(projects, service_headers, metrics=["person_times.group"], group_by=["day", "population"])
        assert got == {("person_times.group", "_all", moved, None): 6,
                       ("person_times.group", "elderly", moved, None): 1,
                       ("person_times.group", "elderly_alone", moved, None): 1}
        assert (await projects.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        assert await stats(projects, service_headers, metrics=["person_times.group", "group_sessions"]) == {}

    async def test_bad_input_names_the_field_and_writes_nothing(self, projects, make_project, make_group,
                                                                make_session, register, worker, sibling, period, db):
        project = await make_project()
        group = await make_group(worker, project["id"])
        mine, theirs = await register(worker), await register(sibling)
        for fields, field in (
            ({"held_on": (period[0] - timedelta(days=1)).isoformat()}, "held_on"),
            ({"anonymous_count": -1}, "anonymous_count"),
            ({"attendees": [{"beneficiary_id": mine}, {"beneficiary_id": theirs}]}, "attendees[1].beneficiary_id"),
        ):
            r = await make_session(worker, group["id"], expect=422, **fields)
            assert [e["field"] for e in r["errors"]] == [field], r
        assert await db.fetchval("SELECT count(*) FROM projects.group_session") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.attendance") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.daily_stat WHERE metric <> 'groups'") == 0
