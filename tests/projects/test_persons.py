"""Distinct persons in the projects service: named attendees of sessions and activities join
the person_day rollup on the day held, once however many occasions; anonymous headcounts do not."""

from datetime import timedelta

from tests.cases.test_persons import members, person_numbers, persons
from tests.fixtures.calls import with_etag


class TestAttendees:
    async def test_once_across_a_session_and_an_activity_and_gone_with_their_occasions(
            self, projects, service_headers, worker, register, make_project, make_group, make_session,
            make_activity, today, db):
        elder, child = await register(worker), await register(worker, populations=("children",), name="小明")
        project = await make_project()
        group = await make_group(worker, project["id"], members=[elder])
        session = await make_session(worker, group["id"], attendees=[{"beneficiary_id": elder}],
                                     anonymous_count=4)
        activity = await make_activity(worker, project["id"], anonymous_count=30,
                                       attendees=[{"beneficiary_id": elder}, {"beneficiary_id": child}])

        [everyone] = await persons(projects, service_headers, today)
        assert members(everyone) == await person_numbers(db, elder, child)
        by_pop = await persons(projects, service_headers, today, group_by=["population"])
        assert {g["population"]: g["count"] for g in by_pop} == {"_all": 2, "elderly": 1, "children": 1}

        r = await projects.delete(f"/v1/activities/{activity['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        [left] = await persons(projects, service_headers, today)
        assert members(left) == await person_numbers(db, elder)

        url = f"/v1/groups/{group['id']}/sessions/{session['id']}"
        r = await projects.patch(url, headers=with_etag(worker, f'"{session["version"]}"'),
                                 json={"held_on": (today - timedelta(days=5)).isoformat()})
        assert r.status_code == 200, r.text
        by_day = await persons(projects, service_headers, today, group_by=["day"])
        assert [(g["period"], g["count"]) for g in by_day] == [((today - timedelta(days=5)).isoformat(), 1)]

        r = await projects.delete(url, headers=with_etag(worker, f'"{r.json()["version"]}"'))
        assert r.status_code == 204, r.text
        assert await persons(projects, service_headers, today) == []


class TestNumberingOlderAttendance:
    async def test_attendance_without_numbers_is_numbered_from_cases_and_counted_again(
            self, projects, service_headers, worker, register, make_project, make_activity, today, db,
            database_url):
        """As after the migration that added the numbers: attendance without them counts nowhere
        until ops/migrate.py numbers it from the cases service's beneficiaries; once is enough."""
        from ops.person_numbers import number_attendance

        elder, child = await register(worker), await register(worker, populations=("children",), name="小明")
        project = await make_project()
        await make_activity(worker, project["id"], attendees=[{"beneficiary_id": elder}, {"beneficiary_id": child}])
        await make_activity(worker, project["id"], attendees=[{"beneficiary_id": elder}])
        before = await persons(projects, service_headers, today, group_by=["population"])
        await db.execute("UPDATE projects.attendance SET person_no = NULL")
        await db.execute("DELETE FROM projects.person_day")
        assert await persons(projects, service_headers, today) == []

        assert await number_attendance(database_url, database_url) == 3
        assert await persons(projects, service_headers, today, group_by=["population"]) == before
        [everyone] = await persons(projects, service_headers, today)
        assert members(everyone) == await person_numbers(db, elder, child)
        # Run again (every `haolin migrate` does): nothing left to number, nothing counted twice.
        assert await number_attendance(database_url, database_url) == 0
        assert await persons(projects, service_headers, today, group_by=["population"]) == before
