"""No cache keeps a personal answer: every answer says `Cache-Control: no-store` and `Vary: Authorization`
unless its route chose a caching of its own for what is no one's personal data.

The routes are every GET operation of the gateway's merged API document (its own and the services'
it proxies, as /openapi.json serves it), with requests made as the authorization matrix makes them,
so a route added tomorrow is checked the day it lands. Each is called with B's records in its path,
by callers in turn (B's station head, the root admin, B's volunteer, B's tablet) until one gets a
2xx: every answer on the way must say no-store, and every route must have answered someone, so the
rule is seen on real records.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.gateway import PASSWORD
from tests.security.authz.conftest import World
from tests.security.authz.routes import Route, build_request

# GET routes whose answers hold no one's personal data and set their own caching, with why.
OWN_CACHING: dict[str, str] = {
    "/v1/stats/summary": "a subtree's aggregate figures: private, max-age=stats_cache_s, Vary: Authorization",
    "/v1/stats/timeseries": "a subtree's aggregate figures, as the summary",
    "/v1/stats/breakdown": "a subtree's aggregate figures, as the summary",
    "/v1/meta/labels": "the labels of codes, the same for everyone: public, max-age=3600",
    "/v1/reports/monthly.xlsx": "a subtree's aggregate figures as a file: private, no-cache",
    "/v1/reports/projects/{project_id}.xlsx": "a project's outputs against its targets as a file: private, no-cache",
    "/v1/projects/{project_id}/progress": "a project's outputs against its targets: private, no-cache, Vary",
}


def no_store(r: httpx.Response) -> bool:
    return "no-store" in r.headers.get("cache-control", "") and \
        "authorization" in r.headers.get("vary", "").lower()


def _callers(world: World) -> list[tuple[str, dict[str, str]]]:
    return [("station_head@B", world.callers["station_head@B"].headers), ("root admin", world.root_admin),
            ("volunteer@B", world.callers["volunteer@B"].headers),
            ("tablet@B", {"Authorization": f"Bearer {world.devices['b']}"})]


def _request(world: World, route: Route, doc: dict):
    def ids(kind: str) -> Any:
        return world.ids["b"][kind]
    return build_request(route, doc, ids, ids, with_optional_refs=False)


@pytest.fixture(scope="module")
async def document(world: World) -> dict:
    r = await world.gateway.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def gets(document: dict) -> list[Route]:
    return [Route("gateway", "GET", path, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method == "get"]


class TestNoStore:
    def test_the_document_lists_the_personal_routes(self, document):
        paths = {route.path for route in gets(document)}
        # Spelled out, as a check of the generated list itself: what the probes found uncached.
        assert {"/v1/beneficiaries/{beneficiary_id}", "/v1/cases/{case_id}", "/v1/volunteers/{volunteer_id}",
                "/v1/users/{user_id}", "/v1/me", "/v1/audit", "/v1/certificates/{certificate_id}.pdf",
                "/v1/beneficiaries", "/v1/sync"} <= paths
        assert set(OWN_CACHING) <= paths

    async def test_every_answer_of_every_get(self, world: World, document):
        routes = gets(document)
        problems, unanswered = [], []
        for route in routes:
            request = _request(world, route, document)
            answered = []
            for caller, headers in _callers(world):
                r = await world.gateway.request(request.method, request.url, params=request.params, headers=headers)
                answered.append((caller, r.status_code))
                if route.path in OWN_CACHING:
                    cache = r.headers.get("cache-control", "")
                    if not ("private" in cache or "public" in cache):
                        problems.append((route.path, caller, r.status_code, cache))
                elif not no_store(r):
                    problems.append((route.path, caller, r.status_code, r.headers.get("cache-control"),
                                     r.headers.get("vary")))
                if r.status_code < 300:
                    break
            if answered[-1][1] >= 300:
                unanswered.append((route.path, answered))
        assert len(routes) > 60
        assert not problems, "\n".join(map(str, problems))
        assert not unanswered, "\n".join(map(str, unanswered))
    async def test_tokens_credentials_and_created_records(self, world: World):
        gw = world.gateway
        r = await gw.post("/v1/auth/token", data={"username": "b.head", "password": PASSWORD})
        assert r.status_code == 200 and no_store(r), r.headers
        r = await gw.post("/v1/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
        assert r.status_code == 200 and no_store(r), (r.text, r.headers)
        r = await gw.post("/v1/auth/token", data={"username": "b.head", "password": "wrong"})
        assert r.status_code == 401 and no_store(r), r.headers
        head = world.callers["station_head@B"].headers
        r = await gw.post("/v1/devices", headers=head, json={"station_id": world.stations["b"]["id"], "name": "平板"})
        assert r.status_code == 201 and "credential" in r.json() and no_store(r), r.headers
        r = await gw.post("/v1/beneficiaries", headers=head, json={"name": "缓存测试", "phone": "13700001111"})
        assert r.status_code == 201 and no_store(r), r.headers
        # The services answer so themselves, before the gateway relays them.
        r = await world.clients["cases"].get(f"/v1/beneficiaries/{r.json()['id']}", headers=head)
        assert r.status_code == 200 and no_store(r), r.headers
