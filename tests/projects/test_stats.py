"""The counting contract: group and community work per day, period, population and station."""

from datetime import timedelta

from tests.projects.conftest import stats


class TestInternalStats:
    async def test_by_station_and_period(self, projects, make_project, make_group, make_session, make_activity,
                                         worker, room_worker, sibling_head, service_headers, today, token_for):
        project = await make_project()
        group = await make_group(worker, project["id"])
        await make_session(worker, group["id"], anonymous_count=5)
        await make_activity(room_worker, project["id"], anonymous_count=30)
        sibling_project = await make_project(sibling_head)
        sibling_worker = token_for("social_worker", 3, "/1/3/", user_id="w3")
        await make_activity(sibling_worker, sibling_project["id"], anonymous_count=7,
                            held_on=(today - timedelta(days=1)).isoformat())

        got = await stats(projects, service_headers, metrics=["person_times.community"], group_by=["station"])
        assert got == {("person_times.community", None, None, 2): 30, ("person_times.community", None, None, 3): 7}
        inside = await stats(projects, service_headers, path="/1/2/", group_by=["station"])
        assert inside[("person_times.group", None, None, 2)] == 5
        assert inside[("person_times.community", None, None, 4)] == 30
        month = await stats(projects, service_headers, metrics=["activities"], group_by=["month"])
        assert sum(month.values()) == 2
        # Metrics of other services are not answered here.
        assert await stats(projects, service_headers, metrics=["person_times.casework"]) == {}

    async def test_service_token_only(self, projects, worker):
        r = await projects.post("/internal/stats", headers=worker,
                                json={"station_path": "/1/", "from": "2026-01-01", "to": "2026-01-02"})
        assert r.status_code == 401


class TestUserStats:
    async def test_own_subtree_only(self, projects, make_project, make_activity, worker, official, sibling, today):
        project = await make_project()
        await make_activity(worker, project["id"], anonymous_count=12)
        window = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat(),
                  "metric": ["person_times.community"]}
        for headers, expected in ((official, 12.0), (worker, 12.0)):
            r = await projects.get("/v1/projects/stats", params=window, headers=headers)
            assert r.status_code == 200 and r.json()["rows"][0]["value"] == expected, r.text
        assert (await projects.get("/v1/projects/stats", params=window, headers=sibling)).json()["rows"] == []
        # Another station's figures: 404, as for a station that does not exist.
        for station in (2, 999_999):
            r = await projects.get("/v1/projects/stats", params={**window, "station_id": station}, headers=sibling)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
