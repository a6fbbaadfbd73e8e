"""Projects: contract data, targets as data, lifecycle, scope, evaluations, and progress."""

from datetime import timedelta

from tests.fixtures.calls import with_etag


class TestCreateProject:
    async def test_created_with_budget_and_targets(self, projects, make_project, head, db):
        r = await projects.post("/v1/projects", headers=head, json={
            "id": "proj-1", "name": "项目", "purchaser": "区民政局", "operator": "好邻", "starts_on": "2026-01-01",
            "ends_on": "2026-12-31", "covered_station_ids": [4],
            "budget": [{"source": "civil_affairs", "amount_yuan": "450000.50"},
                       {"source": "disabled_federation", "amount_yuan": "50000"}],
            "targets": [{"metric": "cases.full", "target": 3, "conditions": {"min_sessions": 5}}]})
        assert r.status_code == 201, r.text
        project = r.json()
        assert r.headers["etag"] == '"1"' and r.headers["location"] == "/v1/projects/proj-1"
        assert project["status"] == "planned" and project["station_id"] == 2
        assert project["budget_total_yuan"] == "500000.50" and project["covered_station_ids"] == [4]
        stored = await db.fetchrow("SELECT budget_total_yuan, station_path FROM projects.project")
        assert str(stored["budget_total_yuan"]) == "500000.50" and stored["station_path"] == "/1/2/"

    async def test_retry_with_same_id_and_body_answers_the_record(self, projects, make_project, head, db):
        first = await make_project(id="tab-p1")
        again = await make_project(id="tab-p1", expect=200)
        assert again == first
        await make_project(id="tab-p1", name="另一个项目", expect=409)
        assert await db.fetchval("SELECT count(*) FROM projects.project") == 1

    async def test_bad_input_names_the_field_and_writes_nothing(self, projects, make_project, db):
        for change, field in (
            ({"targets": [{"metric": "groups", "target": 3}, {"metric": "hugs", "target": 1}]}, "targets[1].metric"),
            ({"targets": [{"metric": "activities", "target": 1, "conditions": {"min_members": 2}}]},
             "targets[0].conditions.min_members"),
            ({"targets": [{"metric": "groups", "target": -1}]}, "targets.0.target"),
            ({"budget": [{"source": "civil_affairs", "amount_yuan": "-5"}]}, "budget.0.amount_yuan"),
            ({"covered_station_ids": [2, 10]}, "covered_station_ids[1]"),
            ({"station_id": 3}, "station_id"),
        ):
            r = await make_project(expect=422, **change)
            assert field in {e["field"] for e in r["errors"]}, (change, r)
        r = await make_project(expect=422, starts_on="2026-05-01", ends_on="2026-04-01")
        assert r["type"].endswith("invalid-input")
        assert await db.fetchval("SELECT count(*) FROM projects.project") == 0

    async def test_only_heads_and_admins_record_projects(self, make_project, worker, official):
        await make_project(worker, expect=403)
        await make_project(official, expect=403)


class TestReadProjects:
    async def test_scope(self, projects, make_project, worker, room_worker, sibling, official, head):
        project = await make_project()
        url = f"/v1/projects/{project['id']}"
        for headers in (worker, room_worker, official, head):
            r = await projects.get(url, headers=headers)
            assert r.status_code == 200 and r.json() == project and r.headers["etag"] == '"1"'
        r = await projects.get(url, headers=sibling)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await projects.get("/v1/projects", headers=sibling)).json()["items"] == []
        # A room worker reads her street station's contract but cannot change it.
        r = await projects.patch(url, json={"name": "x"}, headers=with_etag(room_worker, '"1"'))
        assert r.status_code == 403

    async def test_list_pages_and_filters(self, projects, make_project, worker, today):
        made = [await make_project(name=f"项目{i}", starts_on=(today - timedelta(days=i)).isoformat())
                for i in range(3)]
        r = await projects.get("/v1/projects", params={"limit": 2}, headers=worker)
        page = r.json()
        assert [p["id"] for p in page["items"]] == [made[0]["id"], made[1]["id"]] and page["next_cursor"]
        r = await projects.get("/v1/projects", params={"limit": 2, "cursor": page["next_cursor"]}, headers=worker)
        assert [p["id"] for p in r.json()["items"]] == [made[2]["id"]]
        r = await projects.get("/v1/projects", params={"q": "项目1", "status": "planned"}, headers=worker)
        assert [p["id"] for p in r.json()["items"]] == [made[1]["id"]]


class TestUpdateProject:
    async def test_if_match_and_rules(self, projects, make_project, make_group, make_session, head, worker,
                                      register, period, today):
        project = await make_project()
        url = f"/v1/projects/{project['id']}"
        change = {"targets": [{"metric": "group_sessions", "target": 20}]}
        assert (await projects.patch(url, json=change, headers=head)).status_code == 428
        assert (await projects.patch(url, json=change, headers=with_etag(head, '"7"'))).status_code == 412
        r = await projects.patch(url, json={"targets": [{"metric": "nope", "target": 1}]}, headers=with_etag(head, '"1"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "targets[0].metric"
        r = await projects.patch(url, json=change, headers=with_etag(head, '"1"'))
        assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["targets"][0]["metric"] == "group_sessions"

        group = await make_group(worker, project["id"])
        await make_session(worker, group["id"], held_on=today.isoformat())
        r = await projects.patch(url, json={"ends_on": (today - timedelta(days=1)).isoformat()},
                                 headers=with_etag(head, '"2"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_on"


class TestProjectLifecycle:
    async def test_actions(self, projects, make_project, head):
        project = await make_project()
        url = f"/v1/projects/{project['id']}"
        r = await projects.post(f"{url}/close", headers=head)
        assert r.status_code == 409 and r.json()["current_status"] == "planned"
        assert r.json()["allowed_actions"] == ["start"]
        for action, status in (("start", "running"), ("evaluate", "evaluating"), ("close", "closed"),
                               ("reopen", "running")):
            r = await projects.post(f"{url}/{action}", headers=head)
            assert r.status_code == 200 and r.json()["status"] == status, r.text
        assert (await projects.post(f"{url}/evaluate", headers=with_etag(head, '"1"'))).status_code == 412


class TestDeleteProject:
    async def test_soft_delete_refused_while_it_has_work(self, projects, make_project, make_group, head, worker, db):
        project = await make_project()
        url = f"/v1/projects/{project['id']}"
        group = await make_group(worker, project["id"])
        assert (await projects.delete(url, headers=with_etag(head, '"1"'))).status_code == 409
        r = await projects.delete(f"/v1/groups/{group['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        assert (await projects.delete(url, headers=head)).status_code == 428
        assert (await projects.delete(url, headers=with_etag(head, '"1"'))).status_code == 204
        assert (await projects.get(url, headers=head)).status_code == 404
        assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM projects.project")


class TestEvaluations:
    async def test_record_read_change_remove(self, projects, make_project, head, official, worker, sibling, today):
        project = await make_project()
        base = f"/v1/projects/{project['id']}/evaluations"
        body = {"evaluated_on": today.isoformat(), "evaluator": "第三方评估机构",
                "scores": {"administration": 18, "finance": 17.5, "output": 36, "social_evaluation": 14,
                           "innovation": 8}, "grade": "excellent"}
        r = await projects.post(base, json=body, headers=official)
        assert r.status_code == 201, r.text
        evaluation = r.json()
        assert evaluation["total_score"] == "93.50" and evaluation["project_id"] == project["id"]
        assert (await projects.post(base, json=body, headers=worker)).status_code == 403
        r = await projects.post(base, json={**body, "scores": {"output": 120}}, headers=head)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scores.output"
        assert [e["id"] for e in (await projects.get(base, headers=worker)).json()["items"]] == [evaluation["id"]]
        url = f"{base}/{evaluation['id']}"
        assert (await projects.get(url, headers=sibling)).status_code == 404
        r = await projects.patch(url, json={"scores": {"output": 30}}, headers=with_etag(head, '"1"'))
        assert r.status_code == 200 and r.json()["total_score"] == "30.00"
        assert (await projects.delete(url, headers=with_etag(head, '"2"'))).status_code == 204
        assert (await projects.get(url, headers=head)).status_code == 404


class TestProjectProgress:
    async def test_part_met_targets(self, projects, make_project, make_group, make_session, make_activity, register,
                                    worker, official, today):
        project = await make_project(targets=[
            {"metric": "groups", "target": 1, "conditions": {"min_sessions": 2, "min_members": 2}},
            {"metric": "activities", "target": 2, "conditions": {"min_participants": 8}},
            {"metric": "person_times.group", "target": 5},
            {"metric": "person_times.community", "target": 100},
            {"metric": "resources.linked_yuan", "target": 1000},
            {"metric": "beneficiaries.registered", "target": 80}])
        members = [await register(worker, name=f"成员{i}") for i in range(2)]
        full = await make_group(worker, project["id"], members=members)
        small = await make_group(worker, project["id"], members=members[:1])
        for _ in range(2):
            await make_session(worker, full["id"], attendees=[{"beneficiary_id": m} for m in members])
        await make_session(worker, small["id"], anonymous_count=1)
        await make_activity(worker, project["id"], anonymous_count=10, resources_yuan="1200")
        await make_activity(worker, project["id"], anonymous_count=5)

        r = await projects.get(f"/v1/projects/{project['id']}/progress", headers=official)
        assert r.status_code == 200, r.text
        got = {t["metric"]: (t["value"], t["met"], t["external"]) for t in r.json()["targets"]}
        assert got == {"groups": (1, True, False), "activities": (1, False, False),
                       "person_times.group": (5, True, False), "person_times.community": (15, False, False),
                       "resources.linked_yuan": (1200, True, False),
                       "cases.beneficiaries": (None, None, True)}
        assert r.json()["as_of"] == today.isoformat()

    async def test_only_work_done_within_the_period_counts(self, projects, make_project, make_group, make_session,
                                                            make_activity, head, worker, official, today):
        """A project counts from its start to its end or today, whichever comes first, as its casework
        does: a session or activity planned for later is no output yet, and a group that started
        before the project's period (moved later since) is not one of its groups, though its session
        held in the period counts."""
        start = today - timedelta(days=30)
        project = await make_project(starts_on=start.isoformat(), targets=[
            {"metric": "groups", "target": 1, "conditions": {"min_sessions": 1}},
            {"metric": "group_sessions", "target": 1}, {"metric": "person_times.group", "target": 1},
            {"metric": "activities", "target": 1}, {"metric": "person_times.community", "target": 1},
            {"metric": "resources.linked_yuan", "target": 1}])
        early = await make_group(worker, project["id"], starts_on=(start + timedelta(days=2)).isoformat())
        await make_session(worker, early["id"], held_on=(start + timedelta(days=10)).isoformat(), anonymous_count=2)
        current = await make_group(worker, project["id"], starts_on=(today - timedelta(days=10)).isoformat())
        await make_session(worker, current["id"], held_on=(today - timedelta(days=5)).isoformat(), anonymous_count=3)
        await make_session(worker, current["id"], held_on=(today + timedelta(days=7)).isoformat(), anonymous_count=5)
        await make_activity(worker, project["id"], held_on=(today - timedelta(days=1)).isoformat(),
                            anonymous_count=10, resources_yuan="100")
        await make_activity(worker, project["id"], held_on=(today + timedelta(days=10)).isoformat(),
                            anonymous_count=50, resources_yuan="500")
        moved = start + timedelta(days=5)  # the early group started before this; no session or activity did
        r = await projects.patch(f"/v1/projects/{project['id']}", headers=with_etag(head, f'"{project["version"]}"'),
                                 json={"starts_on": moved.isoformat()})
        assert r.status_code == 200, r.text

        r = await projects.get(f"/v1/projects/{project['id']}/progress", headers=official)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["counted_from"], body["counted_to"]) == (moved.isoformat(), today.isoformat())
        assert {t["metric"]: t["value"] for t in body["targets"]} == {
            "groups": 1, "group_sessions": 2, "person_times.group": 5, "activities": 1,
            "person_times.community": 10, "resources.linked_yuan": 100}

        # A project that has not begun has counted nothing; one that ended counts up to its end.
        future = await make_project(starts_on=(today + timedelta(days=1)).isoformat(),
                                    targets=[{"metric": "activities", "target": 1}])
        body = (await projects.get(f"/v1/projects/{future['id']}/progress", headers=official)).json()
        assert body["counted_to"] < body["counted_from"] and body["targets"][0]["value"] == 0
