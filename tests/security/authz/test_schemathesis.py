"""Schemathesis against every process's own OpenAPI document, in-process.

Every operation of the gateway and of each service gets a few generated requests, valid
(positive) and invalid (negative), sent with an admin's or a social worker's token to the app
itself through httpx's ASGI transport. Each answer must be no 5xx, a status the operation
documents, of the content type it documents, with a body that fits the documented schema.

Hypothesis drives the generation synchronously, so it runs in a worker thread and hands each
request to the test's event loop, where the apps (and their database pools) live. Generation is
derandomized: a failure reproduces on every run.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from tests.security.authz.conftest import World
from tests.security.authz.routes import build_apps, enumerate_routes

# Per operation; the whole run stays around a minute. HAOLIN_FUZZ_EXAMPLES=200 digs deeper, by hand.
EXAMPLES = int(os.environ.get("HAOLIN_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# (process, operation label) -> {check name: why it cannot hold there}. Never a check switched off for all.
KNOWN: dict[tuple[str, str], dict[str, str]] = {}

_, DOCS = enumerate_routes(build_apps())
SCHEMAS = {process: schemathesis.openapi.from_dict(doc) for process, doc in DOCS.items()}
OPERATIONS = [pytest.param(process, result.ok().label, id=f"{process}: {result.ok().label}")
              for process, schema in SCHEMAS.items() for result in schema.get_all_operations()]


def _strategy(operation):
    modes = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            modes.append(operation.as_strategy(generation_mode=mode))
        except Exception:  # noqa: BLE001 - an operation with nothing to negate has no negative strategy
            continue
    return st.one_of(*modes)


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style arguments (what schemathesis serialises to) as httpx takes them."""
    out = {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params", "json")}
    if kwargs.get("files"):
        # requests writes any value of a multipart part as text; httpx takes only str and bytes.
        out["files"] = [(name, (filename, v if isinstance(v, (str, bytes)) else str(v), *rest))
                        for name, (filename, v, *rest) in kwargs["files"]]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data:
        out["data"] = data
    if kwargs.get("cookies"):
        cookie = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
        out["headers"] = {**out.get("headers", {}), "Cookie": cookie}
    return out


async def _send(client: httpx.AsyncClient, kwargs: dict[str, Any]) -> httpx.Response:
    response = await client.request(**kwargs)
    await response.request.aread()  # a multipart body is a stream; the checks read what was sent
    return response


@pytest.mark.parametrize(("process", "label"), OPERATIONS)
async def test_operation_keeps_to_its_document(world: World, process: str, label: str):
    operation = SCHEMAS[process].find_operation_by_label(label)
    client: httpx.AsyncClient = world.clients[process]
    loop = asyncio.get_running_loop()
    tokens = {"admin": world.root_admin, "social worker": world.callers["social_worker@B"].headers}
    excluded = KNOWN.get((process, label), {})
    checks = [c for c in CHECKS if c.__name__ not in excluded]

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=_strategy(operation), who=st.sampled_from(sorted(tokens)))
    def run(case, who: str) -> None:
        kwargs = _httpx_kwargs(case.as_transport_kwargs(base_url=str(client.base_url), headers=tokens[who]))
        response = asyncio.run_coroutine_threadsafe(_send(client, kwargs), loop).result(timeout=60)
        case.validate_response(response, checks=checks)

    await asyncio.to_thread(run)


class TestFoundByFuzzing:
    """What the fuzzer found, pinned down so that it stays fixed whatever the generator draws."""

    async def test_an_id_beyond_bigint_is_refused_naming_it(self, world: World):
        too_big = 2**63
        admin = world.root_admin
        r = await world.gateway.get(f"/v1/stations/{too_big}/subtree", headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.station_id", r.text
        r = await world.gateway.post(f"/v1/stations/{world.stations['b']['id']}/move", headers=admin,
                                     json={"parent_id": too_big})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "parent_id", r.text
        r = await world.clients["cases"].get("/v1/beneficiaries", params={"station_id": too_big}, headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.station_id", r.text

    async def test_the_nul_character_is_refused_naming_where(self, world: World, db):
        worker = world.callers["social_worker@B"].headers
        teams = world.clients["volunteers"]
        before = await db.fetchval("SELECT count(*) FROM volunteers.team")
        r = await teams.post("/v1/teams", headers=worker, json={"name": "助老\x00服务队"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name", r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.team") == before
        r = await teams.get("/v1/teams", headers=worker, params={"q": "a\x00"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.q", r.text
        r = await teams.get("/v1/teams/a%00b", headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path", r.text
        r = await world.gateway.post("/v1/populations", headers=world.root_admin,
                                     json={"code": "zz_nul", "label_zh": "\x00", "label_en": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "label_zh", r.text

    async def test_project_progress_takes_any_id_in_its_path(self, world: World):
        r = await world.gateway.get("/v1/projects/a%1Fb%20c/progress", headers=world.root_admin)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text

    def test_a_create_documents_its_replay(self):
        for process, path in (("volunteers", "/v1/teams"), ("cases", "/v1/cases"), ("projects", "/v1/groups")):
            responses = DOCS[process]["paths"][path]["post"]["responses"]
            assert set(responses) >= {"200", "201", "401", "404", "409", "422"}
            assert responses["200"]["content"] == responses["201"]["content"]
            assert "application/problem+json" in responses["422"]["content"]

    async def test_nul_in_a_login_or_a_lookup_is_refused(self, world: World):
        r = await world.gateway.post("/v1/auth/token", data={"username": "admin\x00", "password": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "username", r.text
        r = await world.clients["cases"].post("/v1/beneficiaries/lookup", headers=world.root_admin,
                                              json={"ids": ["a\x00"]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ids", r.text

    async def test_nul_in_a_tablet_push_is_refused_naming_the_table(self, world: World):
        gw = world.gateway
        device = {"Authorization": f"Bearer {world.devices['b']}"}
        stamp = (await gw.get("/v1/sync", params={"last_pulled_at": "null"}, headers=device)).json()["timestamp"]
        changes = {"beneficiaries": {"created": [], "updated": [], "deleted": ["x\x00y"]}}
        r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, json=changes, headers=device)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"].startswith("changes.beneficiaries"), r.text

    async def test_a_roster_with_a_bare_carriage_return_is_read(self, world: World):
        worker = world.callers["social_worker@B"].headers
        roster = "姓名,证件号码\r张三\r".encode()
        r = await world.clients["volunteers"].post("/v1/volunteers/import", headers=worker, params={"dry_run": "true"},
                                                   files={"file": ("roster.csv", roster, "text/csv")})
        assert r.status_code == 200 and r.json()["rows"] == 1, r.text  # a dry run reports its problems
        assert [e["column"] for e in r.json()["errors"]] == ["id_number"]
