"""Fixtures for the volunteers tests: the station tree in the volunteers service, a volunteer's
real login at a gateway, and record makers. The tree, the people and the callers by role are the
suites' shared ones (tests/fixtures/)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from shared import clock
from tests.fixtures.calls import posted
from tests.fixtures.people import ID_BORN_1990


@pytest.fixture
async def tree(volunteers_client, push_tree):
    await push_tree(volunteers_client)


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
def make_activity(projects_client, push_tree, tree, token_for, today):
    """A community activity, or with `session=True` a group session, in the projects service (at
    station 2 unless said), which hours records may name."""

    async def make(record_id: str, station_id: int = 2, path: str = "/1/2/", session: bool = False) -> dict:
        await push_tree(projects_client)
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
def register(volunteers_client, tree):
    async def make(headers, expect: int = 201, **fields) -> dict:
        body = {"name": "张志愿", "id_number": ID_BORN_1990, **fields}
        return await posted(volunteers_client, "/v1/volunteers", body, headers, expect)

    return make


@pytest.fixture
def record(volunteers_client):
    async def make(headers, volunteer_id: str, expect: int = 201, **fields) -> dict:
        body = {"volunteer_id": volunteer_id, "served_on": clock.today().isoformat(), "hours": "2",
                "content": "助老送餐", **fields}
        return await posted(volunteers_client, "/v1/volunteer-hours", body, headers, expect)

    return make


@pytest.fixture
def act(volunteers_client):
    async def run(headers, hours_id: str, action: str, expect: int = 200, **body) -> dict:
        return await posted(volunteers_client, f"/v1/volunteer-hours/{hours_id}/{action}", body or None, headers,
                            expect)

    return run

