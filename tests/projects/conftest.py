"""Fixtures for the projects tests: the projects app, whose attendee checks reach the real cases
app in-process (in production they go through the gateway, which forwards the same path),
a small station tree in both services, callers by role, and record makers.

Tree: 1 (city) > 2 (our township) > 4 (village room under it); 1 > 3 (sibling township);
9 > 10 (another province).
"""

from datetime import timedelta

import httpx
import pytest

from shared import clock
from tests.volunteers.conftest import ID_A, ID_B

TREE = ("/1/", "/1/2/", "/1/3/", "/1/2/4/", "/9/", "/9/10/")


@pytest.fixture(scope="session")
async def projects(projects_client) -> httpx.AsyncClient:
    """The projects service; its lookups reach the in-process services (tests/conftest.py `relay`)."""
    return projects_client


# Volunteers of station 2 that activities name (the volunteers service checks they exist in scope).
VOLUNTEERS = {"v-1": ID_A, "v-2": ID_B}


@pytest.fixture
async def tree(projects, cases_client, volunteers_client, push_stations, token_for):
    """The station tree in every service, and the volunteers v-1 and v-2 at station 2."""
    for client in (cases_client, projects, volunteers_client):
        await push_stations(client, *TREE)
    worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
    for volunteer_id, id_number in VOLUNTEERS.items():
        r = await volunteers_client.post("/v1/volunteers", headers=worker,
                                         json={"id": volunteer_id, "name": "志愿者", "id_number": id_number})
        assert r.status_code == 201, r.text


@pytest.fixture
def worker(token_for):
    return token_for("social_worker", 2, "/1/2/", user_id="w2")


@pytest.fixture
def room_worker(token_for):
    """A worker of the village room under station 2."""
    return token_for("social_worker", 4, "/1/2/4/", user_id="w4")


@pytest.fixture
def head(token_for):
    return token_for("station_head", 2, "/1/2/", user_id="h2")


@pytest.fixture
def sibling(token_for):
    return token_for("social_worker", 3, "/1/3/", user_id="w3")


@pytest.fixture
def sibling_head(token_for):
    return token_for("station_head", 3, "/1/3/", user_id="h3")


@pytest.fixture
def official(token_for):
    return token_for("official", 1, "/1/", user_id="o1")


@pytest.fixture
def today():
    return clock.today()


@pytest.fixture
def period(today):
    return (today - timedelta(days=90), today + timedelta(days=90))


@pytest.fixture
def register(cases_client, tree):
    """A beneficiary registered in the cases service; returns its id."""

    async def make(headers, populations=("elderly",), name="张桂芳") -> str:
        r = await cases_client.post("/v1/beneficiaries", headers=headers,
                                    json={"name": name, "populations": list(populations)})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    return make


@pytest.fixture
def make_project(projects, tree, head, period):
    async def make(headers=None, expect: int = 201, **fields) -> dict:
        body = {"name": "猛追湾街道社工站项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
                "starts_on": period[0].isoformat(), "ends_on": period[1].isoformat(),
                "budget": [{"source": "civil_affairs", "amount_yuan": "400000.00"},
                           {"source": "womens_federation", "amount_yuan": "100000.00"}],
                "targets": [{"metric": "groups", "target": 3, "conditions": {"min_sessions": 4, "min_members": 5}},
                            {"metric": "activities", "target": 15, "conditions": {"min_participants": 8}},
                            {"metric": "person_times.casework", "target": 80}], **fields}
        r = await projects.post("/v1/projects", json=body, headers=headers or head)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def make_group(projects):
    async def make(headers, project_id: str, expect: int = 201, **fields) -> dict:
        r = await projects.post("/v1/groups", headers=headers,
                                json={"project_id": project_id, "title": "长者防诈骗小组", **fields})
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def make_session(projects, today):
    async def make(headers, group_id: str, expect: int = 201, **fields) -> dict:
        body = {"held_on": today.isoformat(), "topic": "认识电信诈骗", **fields}
        r = await projects.post(f"/v1/groups/{group_id}/sessions", headers=headers, json=body)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def make_activity(projects, today):
    async def make(headers, project_id: str, expect: int = 201, **fields) -> dict:
        body = {"project_id": project_id, "title": "重阳节敬老活动", "kind": "festival", "place": "社区广场",
                "held_on": today.isoformat(), "anonymous_count": 10, **fields}
        r = await projects.post("/v1/activities", headers=headers, json=body)
        assert r.status_code == expect, r.text
        return r.json()

    return make


def with_etag(headers: dict, etag: str) -> dict:
    return {**headers, "If-Match": etag}


async def stats(client, service_headers, path="/1/", days=120, **query) -> dict:
    today = clock.today()
    body = {"station_path": path, "from": (today - timedelta(days=days)).isoformat(),
            "to": (today + timedelta(days=days)).isoformat(), **query}
    r = await client.post("/internal/stats", json=body, headers=service_headers)
    assert r.status_code == 200, r.text
    return {(row["metric"], row.get("population"), row.get("period"), row.get("station")): row["value"]
            for row in r.json()["rows"]}
