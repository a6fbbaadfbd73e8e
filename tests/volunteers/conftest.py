"""Fixtures for the volunteers tests: a small station tree, callers by role, and record makers.

Tree: 1 (city) > 2 (our township) > 4 (village room under it); 1 > 3 (sibling township);
9 > 10 (another province).
"""

from datetime import timedelta

import pytest

from shared import clock
from shared.idnumber import check_digit

TREE = ("/1/", "/1/2/", "/1/3/", "/1/2/4/", "/9/", "/9/10/")


def id_number(first17: str) -> str:
    """A valid 18-character ID number from its first 17 digits."""
    return first17 + check_digit(first17)


ID_A = id_number("51010419900101123")   # born 1990-01-01
ID_B = id_number("51010419850615234")   # born 1985-06-15
ID_C = id_number("51010419700310345")


def minor_id() -> str:
    """An ID number of someone who turned 15 this year."""
    born = clock.today().replace(month=1, day=1) - timedelta(days=365 * 15)
    return id_number(f"510104{born:%Y%m%d}456")


@pytest.fixture
async def tree(volunteers_client, push_stations):
    await push_stations(volunteers_client, *TREE)


@pytest.fixture
def worker(token_for):
    return token_for("social_worker", 2, "/1/2/", user_id="w2", name="王丽")


@pytest.fixture
def head(token_for):
    return token_for("station_head", 2, "/1/2/", user_id="h2", name="李站长")


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
def me(token_for):
    """The login of a volunteer (role volunteer) at station 2, user id u-vol."""
    return token_for("volunteer", 2, "/1/2/", user_id="u-vol")


@pytest.fixture
def today():
    return clock.today()


@pytest.fixture
def register(volunteers_client, tree):
    async def make(headers, expect: int = 201, **fields) -> dict:
        body = {"name": "张志愿", "id_number": ID_A, **fields}
        r = await volunteers_client.post("/v1/volunteers", json=body, headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def record(volunteers_client):
    async def make(headers, volunteer_id: str, expect: int = 201, **fields) -> dict:
        body = {"volunteer_id": volunteer_id, "served_on": clock.today().isoformat(), "hours": "2",
                "content": "助老送餐", **fields}
        r = await volunteers_client.post("/v1/volunteer-hours", json=body, headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return make


@pytest.fixture
def act(volunteers_client):
    async def run(headers, hours_id: str, action: str, expect: int = 200, **body) -> dict:
        r = await volunteers_client.post(f"/v1/volunteer-hours/{hours_id}/{action}", json=body or None,
                                         headers=headers)
        assert r.status_code == expect, r.text
        return r.json()

    return run


def with_etag(headers: dict, etag: str) -> dict:
    return {**headers, "If-Match": etag}


def fields_of(response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}
