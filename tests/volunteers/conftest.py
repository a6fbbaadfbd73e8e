"""Fixtures for the volunteers tests: a small station tree, callers by role, and record makers.

Tree: 1 (city) > 2 (our township) > 4 (village room under it); 1 > 3 (sibling township);
9 > 10 (another province).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from shared import clock
from shared.idnumber import check_digit
# A linked login is checked with the gateway: these tests start one (tests/gateway/conftest.py).
from tests.gateway.conftest import gateway_factory  # noqa: F401

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


@dataclass
class Login:
    head: dict[str, str]  # a station head of station 2, who may link a login to a volunteer
    user_id: str  # the volunteer login's account id, to link
    me: dict[str, str]  # that login's headers
    gateway: Any = None  # the gateway holding the accounts, for more of them
    admin: dict[str, str] | None = None


@pytest.fixture
async def login(gateway_factory, tree) -> Login:
    """Real accounts at the gateway, which a linked login is checked against: station 2 ("/1/2/", the
    first station made under the root), its head and a login of role volunteer there."""
    gateway = await gateway_factory()
    admin = await gateway.admin()
    station = await gateway.station(admin, 1, "township", "站2")
    assert station["path"] == "/1/2/"
    await gateway.user(admin, "head.2", "station_head", station["id"])
    volunteer = await gateway.user(admin, "volunteer.2", "volunteer", station["id"])
    return Login(head=await gateway.headers_for("head.2"), user_id=str(volunteer["id"]),
                 me=await gateway.headers_for("volunteer.2"), gateway=gateway, admin=admin)


@pytest.fixture
def me(login) -> dict[str, str]:
    """The login of a volunteer (role volunteer) at station 2."""
    return login.me


@pytest.fixture
def make_activity(projects_client, push_stations, tree, token_for, today):
    """A community activity, or with `session=True` a group session, in the projects service (at
    station 2 unless said), which hours records may name."""

    async def make(record_id: str, station_id: int = 2, path: str = "/1/2/", session: bool = False) -> dict:
        await push_stations(projects_client, *TREE)
        head = token_for("station_head", station_id, path, user_id=f"h{station_id}")
        worker = token_for("social_worker", station_id, path, user_id=f"w{station_id}")
        r = await projects_client.post("/v1/projects", headers=head, json={
            "name": "社工站项目", "purchaser": "民政局", "operator": "好邻社工中心",
            "starts_on": (today - timedelta(days=30)).isoformat(), "ends_on": today.isoformat()})
        assert r.status_code == 201, r.text
        project_id = r.json()["id"]
        if session:
            r = await projects_client.post("/v1/groups", headers=worker, json={"project_id": project_id,
                                                                             "title": "长者小组"})
            assert r.status_code == 201, r.text
            r = await projects_client.post(f"/v1/groups/{r.json()['id']}/sessions", headers=worker, json={
                "id": record_id, "held_on": today.isoformat()})
        else:
            r = await projects_client.post("/v1/activities", headers=worker, json={
                "id": record_id, "project_id": project_id, "title": "重阳敬老", "held_on": today.isoformat()})
        assert r.status_code == 201, r.text
        return r.json()

    return make


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
