"""A service dies (SIGKILL) or freezes (SIGSTOP) while the gateway is waiting on it.

Whatever the request (a proxied read, a dashboard fan-out, a tablet's sync pull or push),
the gateway answers within its timeout: a problem naming the service (502/503/504), or for
the dashboard a 200 that names the missing service in `degraded`. Never a hang, never a
500. And once the service is back, the same requests work without restarting the gateway.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from shared import clock
from tests.reliability.conftest import STATS_TIMEOUT_S, UPSTREAM_TIMEOUT_S, Platform, problem

pytestmark = pytest.mark.slow

# What "within its timeout" allows on top of the timeout itself: a busy 2-core CI machine.
SLACK_S = 2.0


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def timed(coro) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = await coro
    return r, time.monotonic() - started


@pytest.fixture
async def client(live: Platform):
    # The client's own timeout is far above the gateway's: a hang shows as a failed assertion on
    # the elapsed time, not as a client-side timeout that hides what the gateway did.
    async with httpx.AsyncClient(base_url=live.gateway_url, timeout=30) as c:
        c.headers.update(await admin_headers(c))
        yield c


async def beneficiary(client: httpx.AsyncClient) -> dict:
    r = await client.post("/v1/beneficiaries", json={"name": "赵老伯", "populations": ["elderly"]})
    assert r.status_code == 201, r.text
    return r.json()


PULL = {"last_pulled_at": "null", "schema_version": "2"}


@pytest.fixture
async def tablet(client) -> dict[str, str]:
    r = await client.post("/v1/devices", json={"station_id": 1, "name": "社工站平板"})
    assert r.status_code == 201, r.text
    tablet = {"Authorization": f"Bearer {r.json()['credential']}"}
    return tablet


async def first_pull(client: httpx.AsyncClient, tablet: dict[str, str]) -> int:
    # The first pull also loads the gateway's table registry from every service.
    r = await client.get("/v1/sync", params=PULL, headers=tablet)
    assert r.status_code == 200, r.text
    return r.json()["timestamp"]


def tablet_changes() -> dict:
    person_id = f"b-{uuid.uuid4()}"
    return {
        "beneficiaries": {"created": [{"id": person_id, "name": "钱奶奶", "populations": '["elderly"]'}],
                          "updated": [], "deleted": []},
        "cases": {"created": [{"id": f"c-{uuid.uuid4()}", "beneficiary_id": person_id, "title": "居家照护",
                               "opened_on": clock.today().isoformat()}], "updated": [], "deleted": []},
    }


def requests_of_every_kind(client, tablet, person_id: str, last_pulled_at: int, changes: dict) -> dict:
    """A proxied read, a dashboard fan-out, a sync pull and a sync push, all needing `cases`."""
    return {
        "read": client.get(f"/v1/beneficiaries/{person_id}"),
        "stats": client.get("/v1/stats/summary"),
        "pull": client.get("/v1/sync", params=PULL, headers=tablet),
        "push": client.post("/v1/sync", params={"last_pulled_at": str(last_pulled_at)}, json=changes,
                            headers=tablet),
    }


async def all_timed(requests: dict) -> dict[str, tuple[httpx.Response, float]]:
    tasks = {name: asyncio.create_task(timed(request)) for name, request in requests.items()}
    return {name: await task for name, task in tasks.items()}


class TestServiceKilled:
    async def test_requests_in_flight_get_a_problem_or_a_partial_answer_then_it_recovers(self, live, client,
                                                                                      tablet, db):
        person = await beneficiary(client)
        last_pulled_at = await first_pull(client, tablet)
        changes = tablet_changes()
        gateway_pid = live.pid("gateway")

        # Frozen first, so that every request is surely waiting on the service when it dies.
        live.freeze("cases")
        running = asyncio.create_task(all_timed(requests_of_every_kind(client, tablet, person["id"],
                                                                       last_pulled_at, changes)))
        await asyncio.sleep(0.5)
        assert not running.done(), "the gateway answered before the service could"
        live.kill("cases")
        answers = await running

        r, elapsed = answers["read"]
        assert problem(r, 502)["service"] == "cases"
        assert elapsed < UPSTREAM_TIMEOUT_S + SLACK_S
        r, elapsed = answers["stats"]
        assert r.status_code == 200, r.text
        assert r.json()["degraded"] == ["cases"]
        assert r.json()["station"]["id"] == 1  # what the other services gave is there
        assert "no-cache" in r.headers["cache-control"]  # a partial answer is not to be kept
        assert elapsed < STATS_TIMEOUT_S + SLACK_S
        for kind in ("pull", "push"):
            r, elapsed = answers[kind]
            assert problem(r, 503)["service"] == "cases", kind
            assert 2 <= int(r.headers["retry-after"]) <= 10, kind
            assert elapsed < UPSTREAM_TIMEOUT_S + SLACK_S, kind

        # Still dead: refused at once, no waiting for the timeout; the other services carry on.
        r, elapsed = await timed(client.get(f"/v1/beneficiaries/{person['id']}"))
        assert problem(r, 502)["service"] == "cases"
        assert elapsed < SLACK_S
        assert (await client.get("/v1/projects")).status_code == 200

        # Back, without touching the gateway: its pooled connections to the dead process are not reused,
        # and the tablet's retried push converges (each record once).
        live.start("cases")
        await live.wait_ready("cases")
        r = await client.get(f"/v1/beneficiaries/{person['id']}")
        assert r.status_code == 200 and r.json()["name"] == "赵老伯", r.text
        r = await client.get("/v1/stats/summary")
        assert r.status_code == 200 and r.json()["degraded"] == [], r.text
        r = await client.post("/v1/sync", params={"last_pulled_at": str(last_pulled_at)}, json=changes,
                              headers=tablet)
        assert r.status_code == 204, r.text
        for table in ("beneficiaries", "cases"):
            record_id = changes[table]["created"][0]["id"]
            name = "beneficiary" if table == "beneficiaries" else "case"
            assert await db.fetchval(f"SELECT count(*) FROM cases.{name} WHERE id = $1", record_id) == 1
        r = await client.get("/v1/sync", params={**PULL, "last_pulled_at": str(last_pulled_at)}, headers=tablet)
        assert r.status_code == 200, r.text
        assert [row["id"] for row in r.json()["changes"]["cases"]["updated"]] == [changes["cases"]["created"][0]["id"]]
        assert live.pid("gateway") == gateway_pid


class TestServiceFrozen:
    async def test_every_request_is_answered_within_its_timeout(self, live, client, tablet):
        person = await beneficiary(client)
        last_pulled_at = await first_pull(client, tablet)
        live.freeze("cases")
        try:
            answers = await all_timed(requests_of_every_kind(client, tablet, person["id"], last_pulled_at,
                                                             tablet_changes()))
        finally:
            live.thaw("cases")

        r, elapsed = answers["read"]
        assert problem(r, 504)["service"] == "cases"
        assert UPSTREAM_TIMEOUT_S - 0.5 <= elapsed < UPSTREAM_TIMEOUT_S + SLACK_S
        r, elapsed = answers["stats"]
        assert r.status_code == 200 and r.json()["degraded"] == ["cases"], r.text
        assert STATS_TIMEOUT_S - 0.5 <= elapsed < STATS_TIMEOUT_S + SLACK_S
        for kind in ("pull", "push"):
            r, elapsed = answers[kind]
            assert problem(r, 503)["service"] == "cases", kind
            assert 2 <= int(r.headers["retry-after"]) <= 10, kind
            assert elapsed < UPSTREAM_TIMEOUT_S + SLACK_S, kind
        assert (await client.get(f"/v1/beneficiaries/{person['id']}")).status_code == 200


class TestLostAnswer:
    async def test_a_create_whose_answer_was_lost_is_retried_without_a_duplicate(self, live, client, db):
        body = {"id": f"b-{uuid.uuid4()}", "name": "吴奶奶", "populations": ["elderly"]}
        # The service is slow (frozen for a moment): the client gives up before the answer comes...
        live.freeze("cases")
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/beneficiaries", json=body, timeout=1.0)
        live.thaw("cases")
        # ... while the service still does the work and commits.
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM cases.beneficiary WHERE id = $1", body["id"]):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the first request never arrived")

        r = await client.post("/v1/beneficiaries", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == body["id"] and r.json()["version"] == 1
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1
