"""POST /internal/project-stats: a project's casework figures for its contract targets."""

from datetime import UTC, datetime, timedelta

from tests.fixtures.calls import with_etag


async def record(client, headers, case_id, served_on, person_times=1):
    r = await client.post(f"/v1/cases/{case_id}/service-records", headers=headers, json={
        "served_on": served_on.isoformat(), "mode": "home_visit", "content": "探访",
        "service_type": "social_assistance", "person_times": person_times})
    assert r.status_code == 201, r.text
    return r.json()


class TestProjectStats:
    async def _ask(self, client, service_headers, today, **extra):
        body = {"project_id": "p1", "station_ids": [2], "from": (today - timedelta(days=30)).isoformat(),
                "to": today.isoformat(), **extra}
        r = await client.post("/internal/project-stats", json=body, headers=service_headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        # Read on the primary here (no READ_DATABASE_URL): as of the moment it was asked.
        as_of = datetime.fromisoformat(answer.pop("as_of"))
        assert abs((datetime.now(UTC) - as_of).total_seconds()) < 60
        return answer

    async def test_figures_of_the_project_cases(self, cases_client, service_headers, worker, register, open_case,
                                                make_project, today):
        await make_project("p1")
        await make_project("p2")
        b = await register(worker)
        start = (today - timedelta(days=40)).isoformat()
        full = await open_case(worker, b["id"], project_id="p1", opened_on=start)
        short = await open_case(worker, project_id="p1", opened_on=start)
        other = await open_case(worker, b["id"], project_id="p2", opened_on=start)
        for day, n in ((today - timedelta(days=35), 5), (today - timedelta(days=3), 2), (today, 1)):
            await record(cases_client, worker, full["id"], day, n)
        await record(cases_client, worker, short["id"], today, 4)
        await record(cases_client, worker, other["id"], today, 9)

        got = await self._ask(cases_client, service_headers, today, min_sessions=[1, 2, 3])
        assert got == {"project_id": "p1", "person_times_casework": 7, "case_beneficiaries": 2,
                       "full_cases": {"1": 2, "2": 1, "3": 0}, "closed_without_report": []}

        r = await cases_client.delete(f"/v1/cases/{short['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        got = await self._ask(cases_client, service_headers, today)
        assert (got["person_times_casework"], got["case_beneficiaries"], got["full_cases"]) == (3, 1, {"1": 1})

    async def test_people_with_a_case_open_in_the_period(self, cases_client, service_headers, worker, open_case,
                                                         register, make_project, today):
        """cases.beneficiaries: each person once, when a case of the project was open at some time in
        the period (opened by its end, not closed before its start); not a count of registrations."""
        frm, to = today - timedelta(days=30), today - timedelta(days=5)
        long_ago = (today - timedelta(days=60)).isoformat()
        await make_project("p1")

        async def case(opened_on, closed_on=None, person=None):
            c = await open_case(worker, person, project_id="p1", opened_on=opened_on)
            if closed_on is not None:
                r = await cases_client.post(f"/v1/cases/{c['id']}/close", headers=worker,
                                            json={"reason": "client_withdrew", "on": closed_on})
                assert r.status_code == 200, r.text
            return c

        await case(long_ago, (today - timedelta(days=40)).isoformat())  # closed before the period
        await case(long_ago)  # still open: counts
        await case((today - timedelta(days=3)).isoformat())  # opened after the period
        twice = (await register(worker))["id"]
        await case((frm + timedelta(days=1)).isoformat(), person=twice)
        await case((frm + timedelta(days=2)).isoformat(), person=twice)  # the same person: once
        await case(long_ago, (today - timedelta(days=20)).isoformat())  # closed within: counts
        await register(worker)  # registered, no case: not counted

        r = await cases_client.post("/internal/project-stats", headers=service_headers,
                                    json={"project_id": "p1", "station_ids": [2], "from": frm.isoformat(),
                                          "to": to.isoformat()})
        assert r.status_code == 200 and r.json()["case_beneficiaries"] == 3, r.text

    async def test_service_token_only(self, cases_client, worker, today):
        r = await cases_client.post("/internal/project-stats", headers=worker,
                                    json={"project_id": "p1", "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 401
