"""Fixtures for the casework tests: the station tree in the cases service, and record makers.
The tree, the people and the callers by role are the suites' shared ones (tests/fixtures/)."""

from datetime import timedelta

import pytest

from tests.fixtures.calls import posted


@pytest.fixture
async def tree(cases_client, push_tree):
    await push_tree(cases_client)


@pytest.fixture
def register(cases_client, tree):
    async def make(headers, expect: int = 201, **fields) -> dict:
        body = {"name": "张三丰", **fields}
        return await posted(cases_client, "/v1/beneficiaries", body, headers, expect)

    return make


@pytest.fixture
def open_case(cases_client, register):
    async def make(headers, beneficiary_id: str | None = None, expect: int = 201, **fields) -> dict:
        if beneficiary_id is None:
            beneficiary_id = (await register(headers, populations=fields.pop("populations", ["elderly"])))["id"]
        body = {"beneficiary_id": beneficiary_id, "title": "独居老人照护", **fields}
        return await posted(cases_client, "/v1/cases", body, headers, expect)

    return make


@pytest.fixture
def make_project(projects_client, push_tree, tree, token_for, today):
    """A project in the projects service (held at station 2 unless said), which cases may name."""

    async def make(project_id: str, station_id: int = 2, station_path: str = "/1/2/", **fields) -> dict:
        await push_tree(projects_client)
        body = {"id": project_id, "name": "社工站项目", "purchaser": "民政局", "operator": "好邻社工中心",
                "starts_on": (today - timedelta(days=365)).isoformat(),
                "ends_on": (today + timedelta(days=365)).isoformat(), **fields}
        r = await projects_client.post("/v1/projects", json=body, headers=token_for(
            "station_head", station_id, station_path, user_id=f"h{station_id}"))
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def act(cases_client):
    async def run(headers, case_id: str, action: str, expect: int = 200, **body) -> dict:
        return await posted(cases_client, f"/v1/cases/{case_id}/{action}", body or None, headers, expect)

    return run

