"""Schemathesis against every process's own OpenAPI document, in-process.

Every operation of the gateway and of each service gets a few generated requests, valid
(positive), invalid (negative), and valid but for one query value or body text replaced by what
outside probes sent (numbers beyond any integer column, forged cursors, a lone surrogate, a name
that lower-casing lengthens), sent with an admin's or a social worker's token (a tablet's for sync) to the app
itself through httpx's ASGI transport. Each answer must be no 5xx, a status the operation
documents, of the content type it documents, with a body that fits the documented schema.

Hypothesis drives the generation synchronously, so it runs in a worker thread and hands each
request to the test's event loop, where the apps (and their database pools) live. Generation is
derandomized: a failure reproduces on every run.
"""

from __future__ import annotations

import asyncio
import base64
import json
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

from tests.fixtures.people import id_number
from tests.security.authz.conftest import World, fresh_id
from tests.security.authz.routes import documented_routes

# Per operation; the whole run stays around a minute. HAOLIN_FUZZ_EXAMPLES=200 digs deeper, by hand.
EXAMPLES = int(os.environ.get("HAOLIN_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# (process, operation label) -> {check name: why it cannot hold there}. Never a check switched off for all.
KNOWN: dict[tuple[str, str], dict[str, str]] = {}


def _cursor(values) -> str:
    """A pagination cursor as a client could forge one (the API's own are base64 of a JSON list)."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# Numbers a query string can spell that no PostgreSQL integer holds, or that are not numbers.
HUGE = ("1e400", "-1e400", "1e30", "inf", "-inf", "nan", str(2**63))
# Cursors that decode but hold values of other types or beyond any column.
FORGED_CURSORS = tuple(_cursor(v) for v in ([10**30, "x"], ["2026-01-01T00:00:00+00:00", 10**30], [1e308, 5],
                                            [None, None], [{"a": 1}, [1]], [5, 5], [True, "x"]))
LONE_SURROGATE = "\ud800"
PROBED_QUERY_VALUES = (*HUGE, *FORGED_CURSORS)
# "İ" lower-cases to two code points: a name's derived search keys are longer than the name.
PROBED_TEXTS = (LONE_SURROGATE, "İ" * 100, "1e400")


def _ascii_json(body) -> bytes:
    """JSON with every non-ASCII character escaped, as a client may send it: the only way a lone
    surrogate (\\ud800) can travel, since UTF-8 cannot encode one."""
    return json.dumps(body, ensure_ascii=True).encode()


_, DOCS = documented_routes()
SCHEMAS = {process: schemathesis.openapi.from_dict(doc) for process, doc in DOCS.items()}
OPERATIONS = [pytest.param(process, result.ok().label, id=f"{process}: {result.ok().label}")
              for process, schema in SCHEMAS.items() for result in schema.get_all_operations()]


def _strategy(operation):
    """(case, swap): generated cases as they are (swap None), and valid ones to send with one value
    swapped (see _probed)."""
    modes = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            modes.append(operation.as_strategy(generation_mode=mode))
        except Exception:  # noqa: BLE001 - an operation with nothing to negate has no negative strategy
            continue
    plain = [m.map(lambda case: (case, None)) for m in modes]
    return st.one_of(*plain, modes[0].flatmap(_probed)) if modes else st.one_of(*plain)


def _probed(case):
    """A valid request with one query value or one text of its JSON body to be replaced, when sent, by
    what the outside probes sent: numbers beyond any integer column, forged cursors, a lone surrogate,
    a name that lower-casing makes longer. Swapped in the request rather than the case, whose own
    bookkeeping (schemathesis hashes it as UTF-8) cannot hold a lone surrogate."""
    swaps = [("params", (name,), value) for name in case.query or {} for value in PROBED_QUERY_VALUES]
    if case.media_type == "application/json":  # a form or a file cannot spell a lone surrogate
        swaps += [("json", path, value) for path in _texts(case.body, ()) for value in PROBED_TEXTS]
    if not swaps:
        return st.just((case, None))
    return st.sampled_from(swaps).map(lambda swap: (case, swap))


def _texts(body: Any, path: tuple) -> list[tuple]:
    """The paths of the strings in a JSON body."""
    if isinstance(body, str):
        return [path]
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in _texts(v, (*path, k))]
    if isinstance(body, list):
        return [p for i, v in enumerate(body) for p in _texts(v, (*path, i))]
    return []


def _replaced(body: Any, path: tuple, value: str) -> Any:
    """`body` with the item at `path` (keys and indexes) replaced by `value`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        return {**body, head: _replaced(body[head], rest, value)}
    return [_replaced(v, rest, value) if i == head else v for i, v in enumerate(body)]


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style arguments (what schemathesis serialises to) as httpx takes them."""
    out = {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params")}
    if "json" in kwargs:
        # Escaped, as any client may send JSON: a lone surrogate can travel no other way.
        out["content"] = _ascii_json(kwargs["json"])
        out["headers"] = {**out.get("headers", {}), "Content-Type": "application/json"}
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
    if label in ("GET /v1/sync", "POST /v1/sync", "PUT /v1/sync/attachments/{attachment_id}",
                 "GET /v1/sync/attachments/{attachment_id}"):
        tokens["tablet"] = {"Authorization": f"Bearer {world.devices['b']}"}
    excluded = KNOWN.get((process, label), {})
    checks = [c for c in CHECKS if c.__name__ not in excluded]

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(generated=_strategy(operation), who=st.sampled_from(sorted(tokens)))
    def run(generated, who: str) -> None:
        case, swap = generated
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=tokens[who])
        if swap is not None:
            where, path, value = swap
            kwargs[where] = _replaced(kwargs[where], path, value)
        kwargs = _httpx_kwargs(kwargs)
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


class TestFoundByProbing:
    """What the outside probes found (input that answered 5xx), and its siblings: each a 422 naming
    the parameter or field, with nothing written."""

    async def test_a_sync_timestamp_beyond_any_cursor_is_refused_naming_it(self, world: World):
        gw = world.gateway
        device = {"Authorization": f"Bearer {world.devices['b']}"}
        for value in (*HUGE, str(2**63 - 1)):
            r = await gw.get("/v1/sync", params={"last_pulled_at": value}, headers=device)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "last_pulled_at", (value, r.text)
            r = await gw.post("/v1/sync", params={"last_pulled_at": value}, json={}, headers=device)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "last_pulled_at", (value, r.text)
        for value in ('{"from": 1e400}', '{"from": -1e400}', '{"from": "x"}', '[1]'):
            r = await gw.get("/v1/sync", params={"last_pulled_at": "null", "migration": value}, headers=device)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "migration", (value, r.text)
        r = await gw.get("/v1/sync", params={"last_pulled_at": "null", "schema_version": 2**31}, headers=device)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.schema_version", r.text

    async def test_a_pushed_lone_surrogate_is_refused_naming_the_field(self, world: World, db):
        gw = world.gateway
        device = {"Authorization": f"Bearer {world.devices['b']}", "Content-Type": "application/json"}
        stamp = (await gw.get("/v1/sync", params={"last_pulled_at": "null"}, headers=device)).json()["timestamp"]
        before = await db.fetchval("SELECT count(*) FROM cases.beneficiary")
        row = {"id": fresh_id(), "name": "张三", "populations": "[]"}
        pushes = {
            "changes.beneficiaries.created.0.name": {"beneficiaries": {"created": [{**row, "name": LONE_SURROGATE}]}},
            "changes.beneficiaries.deleted.0": {"beneficiaries": {"deleted": [LONE_SURROGATE]}},
            "changes": {LONE_SURROGATE: {"created": [row]}},
            # Inside a column that travels as JSON text: parsed by the service that owns the table.
            f"changes.beneficiaries.{row['id']}.populations.0": {
                "beneficiaries": {"created": [{**row, "populations": json.dumps([LONE_SURROGATE])}]}},
        }
        volunteer = {"id": fresh_id(), "name": "李四", "id_number": id_number("51010819910101678"),
                     "skills": json.dumps(["助老", LONE_SURROGATE])}
        pushes[f"changes.volunteers.{volunteer['id']}.skills.1"] = {"volunteers": {"created": [volunteer]}}
        for field, changes in pushes.items():
            r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, content=_ascii_json(changes),
                              headers=device)
            assert r.status_code == 422, (field, r.text)
            assert r.json()["errors"][0]["field"] == field, r.text
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == before
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer WHERE id = $1", volunteer["id"]) == 0

    async def test_a_lone_surrogate_in_a_plain_text_field_is_refused_naming_it(self, world: World, db):
        # A field without a length or a pattern (a linked user's id) as well: pydantic parses the body.
        worker = {**world.callers["social_worker@B"].headers, "Content-Type": "application/json"}
        body = {"name": "王五", "id_number": id_number("51010819920202789"), "user_id": LONE_SURROGATE}
        for client in (world.gateway, world.clients["volunteers"]):
            r = await client.post("/v1/volunteers", headers=worker, content=_ascii_json(body))
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "user_id", r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer WHERE name = '王五'") == 0

    async def test_a_pushed_station_beyond_bigint_is_refused_naming_it(self, world: World, db):
        gw = world.gateway
        device = {"Authorization": f"Bearer {world.devices['b']}"}
        stamp = (await gw.get("/v1/sync", params={"last_pulled_at": "null"}, headers=device)).json()["timestamp"]
        row = {"id": fresh_id(), "name": "张三", "populations": "[]", "station_id": 2**63}
        r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, json={"beneficiaries": {"created": [row]}},
                          headers=device)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == \
            f"changes.beneficiaries.{row['id']}.station_id", r.text
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary WHERE id = $1", row["id"]) == 0

    async def test_a_name_longer_once_lower_cased_is_kept_and_found(self, world: World, db):
        # "İ" (U+0130) lower-cases to two code points: the name's search keys are twice its length.
        gw = world.gateway
        worker = world.callers["social_worker@B"].headers
        r = await gw.post("/v1/beneficiaries", headers=worker, json={"name": "İ" * 100, "populations": []})
        assert r.status_code == 201, r.text
        found = await gw.get("/v1/beneficiaries", headers=worker, params={"q": "i̇i̇i̇"})
        assert r.json()["id"] in [b["id"] for b in found.json()["items"]]
        device = {"Authorization": f"Bearer {world.devices['b']}"}
        stamp = (await gw.get("/v1/sync", params={"last_pulled_at": "null"}, headers=device)).json()["timestamp"]
        row = {"id": fresh_id(), "name": "İ" * 66 + "张三", "populations": "[]"}
        r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, json={"beneficiaries": {"created": [row]}},
                          headers=device)
        assert r.status_code == 204, r.text
        assert await db.fetchval("SELECT name FROM cases.beneficiary WHERE id = $1", row["id"]) == row["name"]

    async def test_numbers_and_cursors_beyond_the_database_are_refused_naming_them(self, world: World):
        gw, admin = world.gateway, world.root_admin
        r = await gw.get(f"/v1/stations/{world.stations['b']['id']}/subtree", headers=admin,
                         params={"max_depth": 10**30})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.max_depth", r.text
        county = world.stations["county"]["id"]
        for path in ("/v1/beneficiaries", "/v1/cases", "/v1/projects", "/v1/groups", "/v1/activities",
                     "/v1/volunteers", "/v1/volunteer-hours", "/v1/teams", "/v1/certificates",
                     f"/v1/stations/{county}/children", f"/v1/stations/{county}/subtree", "/v1/users"):
            for cursor in FORGED_CURSORS:
                r = await gw.get(path, headers=admin, params={"cursor": cursor})
                assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor", (path, cursor, r.text)
        for cursor in (_cursor(["2026-01-01T00:00:00+00:00", "gateway", 1e400]),
                       _cursor(["2026-01-01T00:00:00+00:00", "gateway", "1"])):
            r = await gw.get("/v1/audit", headers=admin, params={"cursor": cursor})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor", r.text
