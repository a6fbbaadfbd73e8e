"""Fixtures for the casework tests: a small station tree, callers by role, and record makers.

Tree: 1 (city) > 2 (our township) > 4 (village room under it); 1 > 3 (sibling township);
9 > 10 (another province).
"""

from datetime import timedelta

import pytest

from services.cases.identity import check_digit
from shared import clock

TREE = ("/1/", "/1/2/", "/1/3/", "/1/2/4/", "/9/", "/9/10/")


def id_number(first17: str) -> str:
    """A valid 18-character ID number from its first 17 digits."""
    return first17 + check_digit(first17)


ID_A = id_number("51010419800101123")   # born 1980-01-01
ID_B = id_number("51010419550615234")   # born 1955-06-15
ID_CHILD = id_number("51010420150310345")


@pytest.fixture
async def tree(cases_client, push_stations):
    await push_stations(cases_client, *TREE)


@pytest.fixture
def worker(token_for):
    return token_for("social_worker", 2, "/1/2/", user_id="w2")


@pytest.fixture
def worker2(token_for):
    """Another worker of the same station."""
    return token_for("social_worker", 2, "/1/2/", user_id="w2b")


@pytest.fixture
def head(token_for):
    return token_for("station_head", 2, "/1/2/", user_id="h2")


@pytest.fixture
def sibling(token_for):
    """A worker of the sibling station 3: must see nothing of station 2."""
    return token_for("social_worker", 3, "/1/3/", user_id="w3")


@pytest.fixture
def city_head(token_for):
    return token_for("station_head", 1, "/1/", user_id="h1")


@pytest.fixture
def official(token_for):
    return token_for("official", 1, "/1/", user_id="o1")


@pytest.fixture
def supervisor(token_for):
    return token_for("supervisor", 2, "/1/2/", user_id="s2")


@pytest.fixture
def admin(token_for):
    return token_for("admin", 1, "/1/", user_id="a1")


@pytest.fixture
def today():
    return clock.today()


@pytest.fixture
def register(cases_client, tree):
    async def make(headers, expect: int = 201, **fields) -> dict:
        body = {"name": "张三丰", **fields}
        r = await cases_client.post("/v1/beneficiaries", json=body, headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def open_case(cases_client, register):
    async def make(headers, beneficiary_id: str | None = None, expect: int = 201, **fields) -> dict:
        if beneficiary_id is None:
            beneficiary_id = (await register(headers, populations=fields.pop("populations", ["elderly"])))["id"]
        body = {"beneficiary_id": beneficiary_id, "title": "独居老人照护", **fields}
        r = await cases_client.post("/v1/cases", json=body, headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def make_project(projects_client, push_stations, tree, token_for, today):
    """A project in the projects service (held at station 2 unless said), which cases may name."""

    async def make(project_id: str, station_id: int = 2, station_path: str = "/1/2/", **fields) -> dict:
        await push_stations(projects_client, *TREE)
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
        r = await cases_client.post(f"/v1/cases/{case_id}/{action}", json=body or None, headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return run


def with_etag(headers: dict, etag: str) -> dict:
    return {**headers, "If-Match": etag}
