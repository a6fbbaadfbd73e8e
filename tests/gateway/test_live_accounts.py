"""A token issued before a change to its account stops working at once, on every route.

Disabling, demoting or moving a user, a new password, or moving the user's station (or one above
it) ends the access tokens issued before: within a second the old token answers 401 on every
proxied prefix and on the gateway's own routes, while a refreshed or new login works with the
account as it is now, and a record it files lands under the station's new place in the tree.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.upstream.proxy import PROXIED_PREFIXES
from shared.principals import device_principal
from tests.fixtures.gateway import PASSWORD, users

# Every proxied prefix, and routes of the gateway's own that take a user's token.
PATHS = [*PROXIED_PREFIXES, "/v1/me", "/v1/stats/summary", "/v1/projects/p-1/progress", "/v1/stations",
         "/v1/devices", "/v1/audit"]


async def statuses(gateway, headers) -> dict[str, int]:
    return {path: (await gateway.get(path, headers=headers)).status_code for path in PATHS}


async def refused_everywhere(gateway, headers, within_s: float = 1.0) -> None:
    """Every path answers 401 to `headers` within `within_s` of now."""
    deadline = time.monotonic() + within_s
    while True:
        started = time.monotonic()
        seen = await statuses(gateway, headers)
        if all(status == 401 for status in seen.values()):
            return
        if started > deadline:
            pytest.fail(f"still served {within_s} s after the change: {seen}")
        await asyncio.sleep(0.05)


def served(seen: dict[str, int]) -> bool:
    return all(status != 401 for status in seen.values())


async def login(gateway, username: str) -> tuple[dict, str]:
    r = await gateway.login(username)
    assert r.status_code == 200, r.text
    body = r.json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["refresh_token"]


@pytest.fixture
async def head(gateway, admin_headers, gateway_tree) -> tuple[dict, dict]:
    """A station head of Mengzhuiwan (with Heping below it), logged in: (user, headers)."""
    user = await gateway.user(admin_headers, "meng.head", "station_head", gateway_tree["mengzhuiwan"]["id"])
    await gateway.pushed()
    headers, _ = await login(gateway, "meng.head")
    assert served(await statuses(gateway, headers))
    return user, headers


def lookups_counted(monkeypatch, name: str) -> list[int]:
    """The ids the gateway's per-request lookup `name` (gateway/identity/repository/hot.py) reads from
    the database from now on: a notified cache's misses."""
    from gateway.identity.repository import hot

    reads: list[int] = []
    real = getattr(hot, name)

    async def counted(pool, key):
        reads.append(key)
        return await real(pool, key)

    monkeypatch.setattr(hot, name, counted)
    return reads


async def etag_of(gateway, admin_headers, user_id: int) -> str:
    return (await gateway.get(f"/v1/users/{user_id}", headers=admin_headers)).headers["etag"]


class TestTablets:
    async def test_the_token_of_a_push_names_no_account_and_passes(self, gateway, admin_headers, gateway_tree):
        """What the gateway mints for a tablet's push, so that a service checks the people the push names
        through the gateway as the device (shared.contracts.lookup), is not an account's token: it goes on."""
        station = gateway_tree["mengzhuiwan"]
        token = gateway.app.state.signer.access_token(device_principal("7", station["id"], station["path"]),
                                                      ttl_s=300)
        r = await gateway.post("/v1/beneficiaries/lookup", json={"ids": ["nobody"]},
                               headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []


class TestChangesToTheUser:
    async def test_disabling(self, gateway, admin_headers, head):
        user, headers = head
        assert (await gateway.post(f"/v1/users/{user['id']}/disable", headers=admin_headers)).status_code == 200
        await refused_everywhere(gateway, headers)

    async def test_demotion_to_a_volunteer_elsewhere(self, gateway, admin_headers, gateway_tree, head):
        user, headers = head
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"role": "volunteer",
                                                                 "station_id": gateway_tree["shuangqiao"]["id"]},
                                headers={**admin_headers, "If-Match": await etag_of(gateway, admin_headers,
                                                                                    user["id"])})
        assert r.status_code == 200, r.text
        await refused_everywhere(gateway, headers)
        # Logged in again, the account is what it is now: a volunteer sees no personal records.
        fresh, _ = await login(gateway, "meng.head")
        assert (await gateway.get("/v1/beneficiaries", headers=fresh)).status_code in (403, 404)

    async def test_moving_the_user(self, gateway, admin_headers, gateway_tree, head):
        user, headers = head
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"station_id": gateway_tree["shuangqiao"]["id"]},
                                headers={**admin_headers, "If-Match": await etag_of(gateway, admin_headers,
                                                                                    user["id"])})
        assert r.status_code == 200, r.text
        await refused_everywhere(gateway, headers)

    async def test_a_new_password(self, gateway, admin_headers, head):
        user, headers = head
        r = await gateway.post(f"/v1/users/{user['id']}/password", json={"password": "a fresh one for spring"},
                               headers=admin_headers)
        assert r.status_code == 204, r.text
        await refused_everywhere(gateway, headers)

    async def test_a_change_that_ends_nothing_keeps_the_token(self, gateway, admin_headers, head):
        user, headers = head
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"display_name": "Meng Head", "phone": "13800001111"},
                                headers={**admin_headers, "If-Match": await etag_of(gateway, admin_headers,
                                                                                    user["id"])})
        assert r.status_code == 200, r.text
        assert served(await statuses(gateway, headers))
        me = await gateway.get("/v1/me", headers=headers)
        assert me.json()["display_name"] == "Meng Head"


class TestStationMoves:
    async def test_everyone_at_and_below_a_moved_station(self, gateway, admin_headers, gateway_tree, head, db):
        """Mengzhuiwan (with Heping under it) moves under Mianyang's new county: its head and Heping's
        worker lose their tokens; Shuangqiao's worker, elsewhere in the tree, keeps hers."""
        _, head_headers = head
        await gateway.user(admin_headers, "heping.worker", "social_worker", gateway_tree["heping"]["id"])
        await gateway.user(admin_headers, "shuang.worker", "social_worker", gateway_tree["shuangqiao"]["id"])
        worker_headers, worker_refresh = await login(gateway, "heping.worker")
        other_headers, _ = await login(gateway, "shuang.worker")
        fucheng = await gateway.station(admin_headers, gateway_tree["mianyang"]["id"], "county", "Fucheng")

        r = await gateway.post(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}/move",
                               json={"parent_id": fucheng["id"]},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        await refused_everywhere(gateway, head_headers)
        await refused_everywhere(gateway, worker_headers)
        assert served(await statuses(gateway, other_headers))

        # The pre-move token files nothing, under the old parent or anywhere.
        r = await gateway.post("/v1/beneficiaries", json={"name": "迁移前"}, headers=worker_headers)
        assert r.status_code == 401
        # A refresh (not a new login) gives a token of the station's new place.
        r = await gateway.post("/v1/auth/refresh", json={"refresh_token": worker_refresh})
        assert r.status_code == 200, r.text
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        new_path = f"{fucheng['path']}{gateway_tree['mengzhuiwan']['id']}/{gateway_tree['heping']['id']}/"
        assert (await gateway.get("/v1/me", headers=fresh)).json()["station"]["path"] == new_path
        await gateway.app.state.pusher.sync_now()
        r = await gateway.post("/v1/beneficiaries", json={"name": "迁移后"}, headers=fresh)
        assert r.status_code == 201, r.text
        assert await db.fetchval("SELECT station_path FROM cases.beneficiary WHERE id = $1", r.json()["id"]) == \
            new_path
        assert (await gateway.get(f"/v1/beneficiaries/{r.json()['id']}", headers=fresh)).status_code == 200

    async def test_moving_a_station_above_the_user(self, gateway, admin_headers, gateway_tree):
        """Chenghua (county) moves under Mianyang: Heping's worker, two levels below it, is moved too."""
        await gateway.user(admin_headers, "heping.worker", "social_worker", gateway_tree["heping"]["id"])
        headers, _ = await login(gateway, "heping.worker")
        r = await gateway.post(f"/v1/stations/{gateway_tree['chenghua']['id']}/move",
                               json={"parent_id": gateway_tree["mianyang"]["id"]},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        await refused_everywhere(gateway, headers)


class TestTheCheckItself:
    async def test_a_token_without_a_generation_is_refused(self, gateway, admin_headers, gateway_tree, signer):
        """Tokens of every user carry their account's generation; one without it (made before
        generations existed) is refused like a stale one."""
        from shared.principals import Principal, Role

        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        token = signer.access_token(Principal(user_id=str(user["id"]), role=Role.social_worker,
                                              station_id=gateway_tree["heping"]["id"], station_path=gateway_tree["heping"]["path"]))
        r = await gateway.get("/v1/beneficiaries", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"

    async def test_a_devices_token_reaches_the_service(self, gateway, admin_headers, gateway_tree, signer):
        """During a tablet's push the services look up records through the gateway as the device, with
        the short-lived token the gateway minted for it (gateway/sync/api.py). No account backs it, and
        the gate must not refuse it as a stale one: before, a push naming a person (an attendance) failed
        with 401 on real processes after the other services had written their part (bench scenario 8)."""
        from shared.principals import device_principal

        heping = gateway_tree["heping"]
        worker = (await users(gateway, admin_headers, gateway_tree, ("wk2", "social_worker", "heping")))["wk2"]
        r = await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "赵大爷", "populations": ["elderly"]})
        assert r.status_code == 201, r.text
        person = r.json()
        token = signer.access_token(device_principal("7", heping["id"], heping["path"], name="平板"), ttl_s=300)
        r = await gateway.get(f"/v1/beneficiaries/{person['id']}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "赵大爷"
        other = gateway_tree["shuangqiao"]  # outside the device's subtree: the service's own scope still holds
        token = signer.access_token(device_principal("8", other["id"], other["path"]), ttl_s=300)
        r = await gateway.get(f"/v1/beneficiaries/{person['id']}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404

    async def test_the_refusal_is_a_problem_in_the_callers_language(self, gateway, admin_headers, head):
        user, headers = head
        await gateway.post(f"/v1/users/{user['id']}/disable", headers=admin_headers)
        await refused_everywhere(gateway, headers)
        r = await gateway.get("/v1/cases", headers={**headers, "Accept-Language": "zh-CN"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer" and r.headers["x-request-id"]
        assert "登录" in r.json()["detail"]

    async def test_a_warm_account_costs_no_query(self, gateway, admin_headers, head, monkeypatch):
        """The account is read once; later requests with the same token are answered from the
        process's cache (which the database's notifications keep current)."""
        user, headers = head
        reads = lookups_counted(monkeypatch, "actor")
        for _ in range(5):
            assert (await gateway.get("/v1/me", headers=headers)).status_code == 200
            assert (await gateway.get("/v1/cases", headers=headers)).status_code == 200
        assert reads.count(user["id"]) <= 1

    async def test_a_change_while_the_listener_is_away(self, gateway, admin_headers, head, db):
        """The listening connection is killed and the account disabled behind the gateway's back
        (straight in the database): the old token is refused all the same, since the cache is not
        trusted while its notifications may be missed, and dropped once they are heard again."""
        user, headers = head
        await db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'haolin-gateway-listen' AND datname = current_database()")
        await db.execute('UPDATE gateway."user" SET disabled_at = now() WHERE id = $1', user["id"])
        await refused_everywhere(gateway, headers)
        deadline = time.monotonic() + 5
        while not gateway.app.state.listener.connected:
            assert time.monotonic() < deadline, "the listener did not come back"
            await asyncio.sleep(0.05)
        await refused_everywhere(gateway, headers)


@pytest.mark.replicated
class TestEveryWorker:
    """Two gateways on one database (two workers, or two replicas): each keeps its own copy of the
    accounts, and each hears every change from PostgreSQL, whichever one made it."""

    async def test_a_change_made_on_one_ends_the_token_on_the_other(self, gateway, gateway_factory, admin_headers,
                                                                     head):
        user, headers = head
        other = await gateway_factory()
        assert served(await statuses(other, headers))  # the other gateway now holds the account too
        assert (await gateway.post(f"/v1/users/{user['id']}/disable", headers=admin_headers)).status_code == 200
        await refused_everywhere(other, headers)
        await refused_everywhere(gateway, headers)

    async def test_the_other_drops_its_copy_within_milliseconds(self, gateway, gateway_factory, admin_headers, head):
        """How long the other gateway keeps serving the old token: the time a notification takes from the
        commit to the other process (docs/operations.md, "Several workers")."""
        user, headers = head
        other = await gateway_factory()
        assert (await other.get("/v1/me", headers=headers)).status_code == 200
        assert (await gateway.post(f"/v1/users/{user['id']}/disable", headers=admin_headers)).status_code == 200
        started = time.monotonic()
        while (await other.get("/v1/me", headers=headers)).status_code != 401:
            assert time.monotonic() - started < 0.5, "the other gateway still serves the old token"
            await asyncio.sleep(0.001)


async def summary_status(gateway, headers, station_id: int) -> int:
    return (await gateway.get("/v1/stats/summary", params={"station_id": station_id}, headers=headers)).status_code


async def answers_within(gateway, headers, station_id: int, expected: int, within_s: float = 1.0) -> None:
    deadline = time.monotonic() + within_s
    while (status := await summary_status(gateway, headers, station_id)) != expected:
        assert time.monotonic() < deadline, f"{within_s} s after the change the summary still answers {status}"
        await asyncio.sleep(0.02)


class TestTheStationAskedAbout:
    """A dashboard asks about a station by id; whether it lies in the caller's subtree is read from
    each process's copy of the stations, which the database's notifications keep current: a moved
    or removed station is out of reach on every gateway at once, while the caller's token, whose
    own station did not change, stays good."""

    @pytest.fixture
    async def city_head(self, gateway, admin_headers, gateway_tree) -> dict:
        headers = (await users(gateway, admin_headers, gateway_tree, ("chengdu.head", "station_head", "chengdu")))
        return headers["chengdu.head"]

    async def test_a_station_moved_out_of_the_subtree(self, gateway, gateway_factory, admin_headers, gateway_tree,
                                                      city_head):
        other = await gateway_factory()
        moved = gateway_tree["mengzhuiwan"]["id"]
        assert await summary_status(gateway, city_head, moved) == 200
        assert await summary_status(other, city_head, moved) == 200  # both now hold the station
        r = await gateway.post(f"/v1/stations/{moved}/move", json={"parent_id": gateway_tree["mianyang"]["id"]},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        await answers_within(gateway, city_head, moved, 404)
        await answers_within(other, city_head, moved, 404)
        # Its child went with it; the rest of the city is still the head's.
        assert await summary_status(other, city_head, gateway_tree["heping"]["id"]) == 404
        assert await summary_status(other, city_head, gateway_tree["shuangqiao"]["id"]) == 200
        mianyang_head = (await users(gateway, admin_headers, gateway_tree,
                                     ("mianyang.head", "station_head", "mianyang")))["mianyang.head"]
        assert await summary_status(other, mianyang_head, moved) == 200

    async def test_a_removed_station(self, gateway, gateway_factory, admin_headers, gateway_tree, city_head):
        other = await gateway_factory()
        removed = gateway_tree["heping"]["id"]
        assert await summary_status(other, city_head, removed) == 200
        assert (await gateway.delete(f"/v1/stations/{removed}", headers=admin_headers)).status_code == 204
        await answers_within(other, city_head, removed, 404)
        await answers_within(gateway, city_head, removed, 404)

    async def test_a_station_made_after_it_was_asked_about(self, gateway, admin_headers, gateway_tree, city_head,
                                                           db):
        """An id asked about before its station exists is not remembered as missing."""
        next_id = await db.fetchval("SELECT last_value + 1 FROM pg_sequences "
                                    "WHERE schemaname = 'gateway' AND sequencename = 'station_id_seq'")
        assert await summary_status(gateway, city_head, next_id) == 404
        made = await gateway.station(admin_headers, gateway_tree["chenghua"]["id"], "township", "Jinjiang")
        assert made["id"] == next_id
        assert await summary_status(gateway, city_head, next_id) == 200

    async def test_a_warm_station_costs_no_query(self, gateway, admin_headers, gateway_tree, city_head, monkeypatch):
        reads = lookups_counted(monkeypatch, "station")
        asked = gateway_tree["shuangqiao"]["id"]
        for _ in range(5):
            assert await summary_status(gateway, city_head, asked) == 200
        assert reads.count(asked) <= 1
