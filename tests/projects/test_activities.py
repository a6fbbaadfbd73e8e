"""Community activities: headcount and named participants, resources in yuan, photos as references."""

from datetime import timedelta

from tests.fixtures.calls import with_etag
from tests.fixtures.people import ID_BORN_1970
from tests.projects.conftest import stats


class TestCreateActivity:
    async def test_created_and_counted(self, projects, make_project, make_activity, register, worker, service_headers):
        project = await make_project()
        person = await register(worker, populations=["children"])
        activity = await make_activity(worker, project["id"], resources_yuan="1500.50", volunteer_ids=["v-1", "v-2"],
                                       photos=["https://img.example/1.jpg", "media:42"],
                                       attendees=[{"beneficiary_id": person}], starts_at="09:00", ends_at="11:30")
        assert (activity["person_times"], activity["named_count"], activity["version"]) == (11, 1, 1)
        assert activity["resources_yuan"] == "1500.50" and activity["photos"][1] == "media:42"
        got = await stats(projects, service_headers, group_by=["population"])
        assert got == {("activities", "_all", None, None): 1, ("person_times.community", "_all", None, None): 11,
                       ("person_times.community", "children", None, None): 1,
                       ("resources.linked_yuan", "_all", None, None): 1500.5}
        r = await projects.get(f"/v1/activities/{activity['id']}/attendance", headers=worker)
        assert [i["beneficiary_id"] for i in r.json()["items"]] == [person]

    async def test_bad_input_names_the_field_and_writes_nothing(self, make_project, make_activity, worker, period,
                                                                db):
        project = await make_project()
        for fields, field in (({"anonymous_count": -3}, "anonymous_count"),
                              ({"held_on": (period[1] + timedelta(days=1)).isoformat()}, "held_on"),
                              ({"resources_yuan": "-1"}, "resources_yuan"),
                              ({"starts_at": "10:00", "ends_at": "09:00"}, "ends_at"),
                              ({"attendees": [{"beneficiary_id": "ghost"}]}, "attendees[0].beneficiary_id"),
                              ({"project": "no-such-project"}, "project_id")):
            r = await make_activity(worker, fields.pop("project", project["id"]), expect=422, **fields)
            assert [e["field"] for e in r["errors"]] == [field], r
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0
        assert await db.fetchval("SELECT count(*) FROM projects.daily_stat") == 0

    async def test_scope(self, projects, make_project, make_activity, worker, sibling, official):
        project = await make_project()
        activity = await make_activity(worker, project["id"])
        for headers in (sibling, official):
            assert (await projects.get(f"/v1/activities/{activity['id']}", headers=headers)).status_code == 404
        assert (await projects.get("/v1/activities", headers=sibling)).json()["items"] == []


class TestUpdateActivity:
    async def test_counts_move(self, projects, make_project, make_activity, worker, service_headers, today):
        project = await make_project()
        activity = await make_activity(worker, project["id"], resources_yuan="100")
        url = f"/v1/activities/{activity['id']}"
        day = (today - timedelta(days=3)).isoformat()
        assert (await projects.patch(url, json={"held_on": day}, headers=worker)).status_code == 428
        r = await projects.patch(url, json={"held_on": day, "anonymous_count": 20, "resources_yuan": None},
                                 headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["person_times"] == 20, r.text
        got = await stats(projects, service_headers, group_by=["day"])
        assert got == {("activities", None, day, None): 1, ("person_times.community", None, day, None): 20}


class TestDeleteActivity:
    async def test_taken_back(self, projects, make_project, make_activity, register, worker, service_headers):
        project = await make_project()
        person = await register(worker)
        activity = await make_activity(worker, project["id"], attendees=[{"beneficiary_id": person}])
        url = f"/v1/activities/{activity['id']}"
        assert (await projects.delete(url, headers=with_etag(worker, '"9"'))).status_code == 412
        assert (await projects.delete(url, headers=with_etag(worker, '"1"'))).status_code == 204
        assert await stats(projects, service_headers) == {}
        assert (await projects.get(url, headers=worker)).status_code == 404


class TestActivityAttendance:
    async def test_one_at_a_time_is_idempotent(self, projects, make_project, make_activity, register, worker):
        project = await make_project()
        activity = await make_activity(worker, project["id"], anonymous_count=0)
        person = await register(worker)
        url = f"/v1/activities/{activity['id']}/attendance"
        first = await projects.post(url, json={"beneficiary_id": person}, headers=worker)
        again = await projects.post(url, json={"beneficiary_id": person}, headers=worker)
        assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
        assert (await projects.get(url, headers=worker)).json()["person_times"] == 1


class TestVolunteersNamed:
    """An activity names volunteers the writer can see (the volunteers service decides), on create,
    PATCH and a tablet's push alike."""

    async def test_a_sibling_stations_volunteer_is_refused_naming_the_field(self, projects, volunteers_client,
                                                                           make_project, make_activity, worker,
                                                                           sibling, db):
        project = await make_project()
        r = await volunteers_client.post("/v1/volunteers", headers=sibling,
                                         json={"id": "v-3", "name": "别站志愿者", "id_number": ID_BORN_1970})
        assert r.status_code == 201, r.text
        for named, field in ((["v-1", "v-3"], "volunteer_ids[1]"), (["ghost"], "volunteer_ids[0]")):
            r = await make_activity(worker, project["id"], expect=422, volunteer_ids=named)
            assert [e["field"] for e in r["errors"]] == [field], r
        assert await db.fetchval("SELECT count(*) FROM projects.activity") == 0

        activity = await make_activity(worker, project["id"], volunteer_ids=["v-1", "v-1"])
        assert activity["volunteer_ids"] == ["v-1"]
        url = f"/v1/activities/{activity['id']}"
        r = await projects.patch(url, headers=with_etag(worker, '"1"'), json={"volunteer_ids": ["v-1", "v-3"]})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["volunteer_ids[1]"], r.text
        assert await db.fetchval("SELECT volunteer_ids FROM projects.activity") == ["v-1"]
        r = await projects.patch(url, headers=with_etag(worker, '"1"'), json={"volunteer_ids": ["v-2", "v-1"]})
        assert r.status_code == 200 and r.json()["volunteer_ids"] == ["v-2", "v-1"], r.text
