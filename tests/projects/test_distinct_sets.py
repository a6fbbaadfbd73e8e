"""The projects service's active stations and workers kept by ancestor and month (shared.distinct_sets):
activities and group sessions made, deleted or moved out of the month reach the kept sets."""

from datetime import timedelta

from tests.cases.test_distinct_sets import last_month
from tests.fixtures.calls import with_etag


class TestKeptActivity:
    async def test_activities_made_and_deleted_reach_the_kept_sets(self, projects, service_headers, token_for,
                                                                    make_project, make_activity, today, db):
        first, last = last_month(today)
        project = await make_project()
        one = token_for("social_worker", 2, "/1/2/", user_id="301")
        two = token_for("social_worker", 2, "/1/2/", user_id="302")

        async def active() -> list[tuple]:
            r = await projects.post("/internal/activity", headers=service_headers, json={
                "station_path": "/1/", "from": first.isoformat(), "to": last.isoformat(), "group_by": ["month"]})
            assert r.status_code == 200, r.text
            return [(g["period"], g["stations"], g["workers"]) for g in r.json()["groups"]]

        made = await make_activity(one, project["id"], held_on=(first + timedelta(days=3)).isoformat())
        assert await active() == [(first.isoformat(), [2], ["301"])]
        kept = await db.fetchval("SELECT count(*) FROM projects.distinct_set WHERE node_id = 1 AND month = $1",
                                 first)
        assert kept == 2  # stations and workers
        assert await active() == [(first.isoformat(), [2], ["301"])]

        await make_activity(two, project["id"], held_on=(first + timedelta(days=5)).isoformat())
        assert await active() == [(first.isoformat(), [2], ["301", "302"])]
        r = await projects.delete(f"/v1/activities/{made['id']}", headers=with_etag(one, '"1"'))
        assert r.status_code == 204, r.text
        assert await active() == [(first.isoformat(), [2], ["302"])]
