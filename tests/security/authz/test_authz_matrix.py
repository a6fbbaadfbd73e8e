"""The authorization matrix: every route of every process, read from the apps' OpenAPI documents
(and their routers, for what the documents leave out), against every role.

Each route falls under one generic rule by its shape, or under one line of PUBLIC / NOT_SCOPED
with the reason; a route under none fails TestCoverage. The rules:

- record: a route with path parameters, filled with the ids of records of the sibling station B,
  called by a user of every role at station A (and by B's volunteer login where a person's record
  is named): it answers exactly what the same route answers for an id that exists nowhere (404,
  or a 403 that does not depend on the record), and nothing stored changes;
- list: a GET without path parameters, called with every reference filter pointing into B: nothing
  of B in the answer (a station_id filter into B is refused outright);
- create: any other route without path parameters, its body's references pointing into B: refused
  (a 422 names a reference field) or answered without B and without writing anything;
- cross-service reference: every create or update whose body names a record another process keeps
  (a case's project, an activity's volunteers, an hours record's activity, a volunteer's login),
  sent by A's station head for A's own records with only that field pointing at B's record:
  refused with a 422 naming that field, and nothing stored changes;
- officials, in scope or not, never receive a person's fields or values from any GET;
- no token, an expired one, one signed by another key, a revoked device's credential: 401;
- /internal/... answers only the gateway's service token.

See tests/security/authz/conftest.py for the world the rules run against.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from ops.keys import generate_signing_pair
from shared import clock
from shared.auth import TokenSigner
from shared.principals import Principal, Role
from shared.rollup import live_sums_sql
from tests.conftest import _plain
from tests.security.authz.conftest import MARK_B, MARK_STRUCTURE, ROLES, World, fresh_id
from tests.security.authz.routes import (ANY, CROSS_SERVICE, PROCESSES, REFERENCES, Route, UnknownReference,
                                         build_request, cross_service_fields, documented_routes)

ROUTES, DOCS = documented_routes()
PROBLEM = "application/problem+json"

# Routes that need no credential at all; every rule skips them.
PUBLIC: dict[tuple[str, str, str], str] = {
    ("gateway", "POST", "/v1/auth/token"): "logging in: the username and password are the credential",
    ("gateway", "POST", "/v1/auth/refresh"): "the refresh token is the credential (see tests/gateway/test_auth.py)",
    ("gateway", "POST", "/v1/auth/logout"): "the refresh token is the credential",
    ("gateway", "GET", "/v1/sync/schema"): "the synced tables and their columns, no record",
    ("gateway", "GET", "/v1/meta/labels"): "the labels of codes and field names, no record",
    **{(p, "GET", path): "probes and API documents: no record"
       for p in PROCESSES for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                                       "/redoc", "/docs/assets/{digest}/{name}")},
    **{(p, "GET", "/metrics"): "counts by route template, no record (loopback/private addresses only)"
       for p in PROCESSES},
    ("gateway", "GET", "/dashboard"): "the dashboard page's static HTML: its data comes from the routes here",
    ("gateway", "GET", "/dashboard/assets/{digest}/{name}"): "the dashboard's scripts, styles and chart library",
    # The proxy relays the request and its token untouched to the service that owns the path,
    # whose own routes are all in this matrix; it decides nothing itself.
    **{("gateway", ANY, path): "the resource proxy"
       for prefix in ("/v1/beneficiaries", "/v1/caseload", "/v1/cases", "/v1/populations", "/v1/approvals",
                      "/v1/approval-rules", "/v1/supervisor-assignments", "/v1/supervision-records", "/v1/rosters",
                      "/v1/visit-rules", "/v1/transfers", "/v1/projects", "/v1/groups", "/v1/activities", "/v1/volunteers",
                      "/v1/teams", "/v1/volunteer-hours", "/v1/certificates")
       for path in (prefix, prefix + "/{rest:path}")},
}
# Authenticated routes outside the station-scope rules (the 401 rule still covers them).
NOT_SCOPED: dict[tuple[str, str, str], str] = {
    ("gateway", "POST", "/v1/me/password"): "changes the caller's own password only",
    ("cases", "POST", "/v1/populations"): "the platform-wide list of population codes (admins of the root or a province), no station",
    ("gateway", "GET", "/v1/sync"): "a device credential, scoped to the device's station: TestDevices",
    ("gateway", "POST", "/v1/sync"): "a device credential, scoped to the device's station: TestDevices",
    ("gateway", "PUT", "/v1/sync/attachments/{attachment_id}"):
        "a device credential; the file's record is looked up in the device's subtree: tests/gateway/test_sync_attachments.py",
    ("gateway", "GET", "/v1/sync/attachments/{attachment_id}"):
        "a device credential; the file is looked up in the device's subtree: tests/gateway/test_sync_attachments.py",
}
# Record kinds that are not a person's record: a volunteer may read them in their own station.
STRUCTURE = frozenset({"station", "user", "device", "project", "evaluation"})
# What the code treats as a person's own data: the fields beneficiaries and volunteers keep
# encrypted or masked (id_number, phone, emergency_contact) and their profile's health,
# disability, address and consent fields.
PERSONAL_KEYS = frozenset({"id_number", "phone", "address", "emergency_contact", "birth_on", "self_care",
                           "disability_type", "disability_grade", "consents", "guardian_consent"})
SIBLINGS = tuple(f"{role}@A" for role in ROLES)
VOLUNTEER = "volunteer@B"
OFFICIALS = ("official@A", "official@county")


def rule_of(route: Route) -> str:
    if route.key in PUBLIC:
        return "public"
    if route.key in NOT_SCOPED:
        return "not-scoped"
    if route.path.startswith("/internal/"):
        return "internal"
    if route.operation is None:
        return "unknown"
    if route.params:
        return "record"
    return "list" if route.method == "GET" else "create"


def _names_a_person(route: Route) -> bool:
    try:
        return any(route.kind_of(p) not in STRUCTURE for p in route.params)
    except UnknownReference:
        return True


def _cases(rule: str, callers) -> list:
    return [pytest.param(route, caller, id=f"{route.label} as {caller}")
            for route in ROUTES if rule_of(route) == rule for caller in callers(route)]


RECORD_CASES = _cases("record", lambda r: SIBLINGS + ((VOLUNTEER,) if _names_a_person(r) else ()))
LIST_CASES = _cases("list", lambda r: SIBLINGS + (VOLUNTEER,))
CREATE_CASES = _cases("create", lambda r: SIBLINGS)
OFFICIAL_CASES = [pytest.param(route, caller, id=f"{route.label} as {caller}") for route in ROUTES
                  if route.method == "GET" and rule_of(route) in ("record", "list") for caller in OFFICIALS]
CROSS_SERVICE_CASES = [pytest.param(route, field, id=f"{route.label}: {field}") for route in ROUTES
                       if rule_of(route) in ("record", "create")
                       for field in cross_service_fields(route, DOCS[route.process])]
AUTHENTICATED = [pytest.param(route, id=route.label) for route in ROUTES if rule_of(route) != "public"]
INTERNAL = [pytest.param(route, id=route.label) for route in ROUTES if rule_of(route) == "internal"]


class Probe:
    """A second reader of the database: a digest of every table, and a record's version by id."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._digest_sql = ""
        self._version_sql = ""

    async def prepare(self) -> None:
        tables = await self.conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[]) "
            # An audit log grows on refused attempts too, by design: it is not a record they change.
            "AND tablename <> 'alembic_version' AND tablename NOT LIKE '%audit%' ORDER BY 1, 2", list(PROCESSES))
        # The rollup by ancestor as the figures read it, folded and pending summed: a service's
        # background fold moves rows from one table to the other at any time without changing a figure.
        rows = {(t["schemaname"], t["tablename"]): f"\"{t['schemaname']}\".\"{t['tablename']}\"" for t in tables
                if t["tablename"] != "ancestor_pending"}
        for schema, table in rows:
            if table == "ancestor_stat":
                rows[(schema, table)] = f"({live_sums_sql(schema)})"
        self._digest_sql = " UNION ALL ".join(
            f"SELECT '{schema}.{table}' AS name, "
            f"md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS digest FROM {source} x"
            for (schema, table), source in rows.items())
        versioned = await self.conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.columns WHERE table_schema = ANY($1::text[]) "
            "AND column_name IN ('id', 'version') GROUP BY 1, 2 HAVING count(*) = 2", list(PROCESSES))
        self._version_sql = " UNION ALL ".join(
            f"SELECT version FROM \"{t['table_schema']}\".\"{t['table_name']}\" WHERE id::text = $1"
            for t in versioned)

    async def digest(self) -> dict[str, str]:
        return {r["name"]: r["digest"] for r in await self.conn.fetch(self._digest_sql)}

    async def version(self, record_id: Any) -> int | None:
        return await self.conn.fetchval(self._version_sql, str(record_id))


@pytest.fixture(scope="module")
async def probe(world: World):
    conn = await asyncpg.connect(_plain(world.database_url))
    p = Probe(conn)
    await p.prepare()
    yield p
    await conn.close()


def _client(world: World, route: Route) -> httpx.AsyncClient:
    return world.clients[route.process]


def _missing(world: World):
    def ids(kind: str) -> Any:
        return 987_654_321 if isinstance(world.ids["b"].get(kind), int) else fresh_id()
    return ids


def _side(world: World, side: str, route: Route | None = None):
    def ids(kind: str) -> Any:
        if kind not in world.ids[side]:
            where = f"{route.label}: " if route else ""
            raise UnknownReference(f"{where}the world holds no {kind} at station {side.upper()}; add one in "
                                   "tests/security/authz/conftest.py")
        return world.ids[side][kind]
    return ids


async def send(client: httpx.AsyncClient, request, headers: dict[str, str]) -> httpx.Response:
    return await client.request(request.method, request.url, params=request.params, json=request.json,
                                files=request.files, data=request.data, headers=headers)


def _problem(r: httpx.Response) -> tuple:
    body = r.json() if r.headers.get("content-type", "").startswith(PROBLEM) else {}
    return r.status_code, body.get("type"), body.get("detail")


def _text(r: httpx.Response) -> str:
    """The answer's text, less a problem's `instance` (the request's own path, ids included)."""
    if r.headers.get("content-type", "").startswith(PROBLEM):
        return json.dumps({k: v for k, v in r.json().items() if k != "instance"}, ensure_ascii=False)
    return r.text


def _leaks(world: World, r: httpx.Response, caller: str) -> list[str]:
    """What of B's the caller may not see, found in a response."""
    text = _text(r)
    if caller == VOLUNTEER:
        # B's station, staff and projects are the volunteer's own station's; people's records are not.
        people = {v for k, v in world.ids["b"].items() if k not in STRUCTURE}
        marks = [MARK_B]
    else:
        people = world.b_ids()
        marks = [MARK_B, MARK_STRUCTURE]
    found = [m for m in marks if m in text]
    found += [f"id {i}" for i in people if str(i) in text and str(i) not in world.own]
    found += [f"personal value #{n}" for n, v in enumerate(world.personal) if v in text]
    return found


def _personal_keys(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k in PERSONAL_KEYS and v not in (None, [], {}):
                found.add(k)
            found |= _personal_keys(v)
    elif isinstance(node, list):
        for v in node:
            found |= _personal_keys(v)
    return found


class TestCoverage:
    def test_every_route_falls_under_a_rule(self):
        unknown = [r.label for r in ROUTES if rule_of(r) == "unknown"]
        assert not unknown, f"routes hidden from OpenAPI and under no rule: {unknown}"

    def test_exemptions_name_real_routes(self):
        keys = {r.key for r in ROUTES}
        stale = [k for k in NOT_SCOPED if k not in keys]
        stale += [k for k in PUBLIC if k not in keys]
        assert not stale, f"exemptions for routes that do not exist: {stale}"

    def test_the_matrix_is_not_empty(self):
        # Every process contributes routes; a document that failed to load would empty the matrix.
        for process in PROCESSES:
            assert sum(1 for r in ROUTES if r.process == process and rule_of(r) in ("record", "list", "create")) > 2

    def test_every_cross_service_reference_is_under_the_rule(self):
        """A field declared in CROSS_SERVICE that no route carries is a stale declaration; each one
        carried is tested on every create and update that carries it."""
        carried = {(p.values[0].process, p.values[1]) for p in CROSS_SERVICE_CASES}
        declared = {(process, field) for process, fields in CROSS_SERVICE.items() for field in fields}
        assert carried == declared
        labels = {p.id for p in CROSS_SERVICE_CASES}
        for expected in ("cases: POST /v1/cases: project_id", "cases: PATCH /v1/cases/{case_id}: project_id",
                         "projects: PATCH /v1/activities/{activity_id}: volunteer_ids",
                         "volunteers: POST /v1/volunteer-hours/{hours_id}/correct: activity_ref",
                         "volunteers: PATCH /v1/volunteers/{volunteer_id}: user_id"):
            assert expected in labels, sorted(labels)

    async def test_the_targets_exist(self, world: World):
        """Every GET record route answers 200 to the root admin for B's ids: a 404 in the matrix
        is the scope check, not a wrong id."""
        failures = []
        for route in ROUTES:
            if rule_of(route) == "record" and route.method == "GET":
                request = build_request(route, DOCS[route.process], _side(world, "b", route), _side(world, "b"),
                                        with_optional_refs=False)
                r = await send(_client(world, route), request, world.root_admin)
                if r.status_code != 200:
                    failures.append(f"{route.label}: {r.status_code} {r.text[:200]}")
        assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("route", "caller"), RECORD_CASES)
async def test_records_out_of_scope_read_as_missing(world: World, probe: Probe, route: Route, caller: str):
    headers = dict(world.callers[caller].headers)
    # Body references stay in the caller's own reach, so that only the path's record is out of scope.
    own_side = "b" if caller == VOLUNTEER else "a"
    target = build_request(route, DOCS[route.process], _side(world, "b", route), _side(world, own_side, route))
    missing = build_request(route, DOCS[route.process], _missing(world), _side(world, own_side, route))
    # The current version, so that a route missing its scope check would really write.
    version = await probe.version(_side(world, "b", route)(route.kind_of(route.params[-1])))
    writes = route.method != "GET"
    before = await probe.digest() if writes else None
    r = await send(_client(world, route), target, {**headers, "If-Match": f'"{version or 1}"'})
    after = await probe.digest() if writes else None
    absent = await send(_client(world, route), missing, {**headers, "If-Match": '"1"'})

    assert r.status_code in (403, 404), f"{route.label} as {caller}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith(PROBLEM)
    assert _problem(r) == _problem(absent), (
        f"{route.label} as {caller}: B's record answers {_problem(r)}, a missing one {_problem(absent)}")
    if writes:
        changed = [t for t in before if before[t] != after.get(t)]
        assert not changed, f"{route.label} as {caller} changed {changed}"
    assert not _leaks(world, r, caller)


@pytest.mark.parametrize(("route", "caller"), LIST_CASES)
async def test_lists_show_nothing_out_of_scope(world: World, route: Route, caller: str):
    headers = world.callers[caller].headers
    doc = DOCS[route.process]
    filtered = await send(_client(world, route), build_request(route, doc, _side(world, "b"), _side(world, "b")),
                          headers)
    plain = await send(_client(world, route), build_request(route, doc, _side(world, "b"), _side(world, "b"),
                                                            with_optional_refs=False), headers)
    for r in (filtered, plain):
        assert r.status_code < 500, r.text
        leaks = _leaks(world, r, caller)
        assert not leaks, f"{route.label} as {caller} ({r.request.url}): {leaks}"
    station_filter = any(p.get("name") == "station_id" for p in (route.operation or {}).get("parameters", []))
    if station_filter and caller != VOLUNTEER:
        # Counts carry no marker: B's station must read exactly as a station that does not exist.
        nowhere = build_request(route, doc, _side(world, "b"), _side(world, "b"), with_optional_refs=False)
        nowhere.params["station_id"] = 987_654_321
        absent = await send(_client(world, route), nowhere, headers)
        assert (filtered.status_code, _text(filtered)) == (absent.status_code, _text(absent)), (
            f"{route.label} as {caller}: station_id of the sibling station answered {filtered.status_code} "
            f"{_text(filtered)[:200]}, of no station {absent.status_code} {_text(absent)[:200]}")


@pytest.mark.parametrize(("route", "caller"), CREATE_CASES)
async def test_creates_cannot_reach_out_of_scope(world: World, probe: Probe, route: Route, caller: str):
    headers = world.callers[caller].headers
    request = build_request(route, DOCS[route.process], _side(world, "b"), _side(world, "b", route))
    before = await probe.digest()
    r = await send(_client(world, route), request, headers)
    after = await probe.digest()
    changed = [t for t in before if before[t] != after.get(t)]
    assert not changed, f"{route.label} as {caller} with B's references answered {r.status_code} and changed {changed}"
    assert r.status_code < 500, r.text
    assert not _leaks(world, r, caller), f"{route.label} as {caller}: {r.text[:300]}"
    if r.status_code == 422:
        fields = {e["field"].split(".")[-1] for e in r.json().get("errors", [])}
        fields = {f for f in fields if not f.isdigit()} or {e["field"] for e in r.json().get("errors", [])}
        assert fields & set(REFERENCES), (
            f"{route.label} as {caller}: refused for {fields}, not for a reference; fix the synthesised body")


@pytest.mark.parametrize(("route", "field"), CROSS_SERVICE_CASES)
async def test_references_to_another_services_records_stay_in_scope(world: World, probe: Probe, route: Route,
                                                                    field: str):
    own = _side(world, "a", route)
    request = build_request(route, DOCS[route.process], own, own)
    target = world.ids["b"][REFERENCES[field]]
    request.json[field] = [str(target)] if isinstance(request.json.get(field), list) else str(target)
    # A's record at its current version, so that only the reference can refuse the update.
    version = await probe.version(own(route.kind_of(route.params[-1]))) if route.params else None
    before = await probe.digest()
    r = await send(_client(world, route), request, {**world.callers["station_head@A"].headers,
                                                     "If-Match": f'"{version or 1}"'})
    after = await probe.digest()
    changed = [t for t in before if before[t] != after.get(t)]
    assert not changed, f"{route.label} with B's {field} answered {r.status_code} and changed {changed}"
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), (
        f"{route.label} with B's {field}: {r.status_code} {r.text[:300]}")
    named = {e["field"].split("[")[0] for e in r.json().get("errors", [])}
    assert named == {field}, f"{route.label}: refused for {named}, not for {field}: {r.text[:300]}"
    assert not _leaks(world, r, "station_head@A")


@pytest.mark.parametrize(("route", "caller"), OFFICIAL_CASES)
async def test_officials_never_receive_personal_fields(world: World, route: Route, caller: str):
    request = build_request(route, DOCS[route.process], _side(world, "b", route), _side(world, "b"),
                            with_optional_refs=False)
    r = await send(_client(world, route), request, world.callers[caller].headers)
    assert r.status_code < 500, r.text
    text = _text(r)
    values = [n for n, v in enumerate(world.personal) if v in text]
    assert not values and MARK_B not in text, f"{route.label} as {caller}: {r.text[:300]}"
    if r.headers.get("content-type", "").startswith("application/json"):
        assert not _personal_keys(r.json()), f"{route.label} as {caller}: {r.text[:300]}"


@pytest.fixture(scope="module")
def bad_credentials(world: World, signer: TokenSigner) -> dict[str, str]:
    worker = world.callers["social_worker@A"]
    principal = Principal(user_id=worker.user_id, role=Role.social_worker, station_id=world.stations["a"]["id"],
                          station_path=world.stations["a"]["path"])
    stranger = TokenSigner(generate_signing_pair()[0], signer.issuer, signer.audience)
    return {
        "expired": signer.access_token(principal, ttl_s=-60),
        "foreign key": stranger.access_token(principal),
        "revoked device": world.devices["revoked"],
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("route", AUTHENTICATED)
async def test_bad_credentials_get_401(world: World, bad_credentials: dict[str, str], route: Route):
    request = build_request(route, DOCS[route.process], _side(world, "b"), _side(world, "b"))
    failures = []
    for name, credential in [("none", None), *bad_credentials.items()]:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        r = await send(_client(world, route), request, headers)
        if r.status_code != 401 or not r.headers["content-type"].startswith(PROBLEM):
            failures.append(f"{name}: {r.status_code} {r.text[:200]}")
    assert not failures, f"{route.label}: {failures}"


@pytest.mark.parametrize("route", INTERNAL)
async def test_internal_endpoints_take_only_the_service_token(world: World, service_headers, route: Route):
    request = build_request(route, DOCS[route.process], _side(world, "b"), _side(world, "b"))
    for label, caller in world.callers.items():
        r = await send(_client(world, route), request, caller.headers)
        assert r.status_code == 401, f"{route.label} as {label}: {r.status_code} {r.text[:200]}"
    r = await send(_client(world, route), request, service_headers)
    assert r.status_code not in (401, 403), f"{route.label} refuses the service token: {r.text[:200]}"


class TestDevices:
    async def test_a_device_pulls_only_its_station(self, world: World):
        gw = world.gateway
        pulled = {}
        for side in ("a", "b"):
            r = await gw.get("/v1/sync", params={"last_pulled_at": "null"},
                             headers={"Authorization": f"Bearer {world.devices[side]}"})
            assert r.status_code == 200, r.text
            pulled[side] = r
        assert world.ids["b"]["beneficiary"] in pulled["b"].text  # the pull does carry records
        assert not _leaks(world, pulled["a"], "social_worker@A")

    async def test_a_device_cannot_push_into_the_sibling_station(self, world: World, probe: Probe):
        gw = world.gateway
        r = await gw.get("/v1/sync", params={"last_pulled_at": "null"},
                         headers={"Authorization": f"Bearer {world.devices['a']}"})
        stamp = r.json()["timestamp"]
        # B's person renamed and claimed for station A, B's child deleted.
        changes = {"beneficiaries": {"created": [], "deleted": [world.ids["b"]["child"]], "updated": [
            {"id": world.ids["b"]["beneficiary"], "name": "改名", "station_id": world.stations["a"]["id"]}]}}
        before = await probe.digest()
        r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, content=json.dumps(changes),
                          headers={"Authorization": f"Bearer {world.devices['a']}",
                                   "Content-Type": "application/json"})
        after = await probe.digest()
        changed = [t for t in before if before[t] != after[t] and not t.startswith("gateway.")]
        assert not changed, f"a push from station A changed {changed} ({r.status_code} {r.text[:200]})"
        assert r.status_code in (204, 403, 404, 409, 422), r.text


    async def test_a_device_cannot_refer_to_the_sibling_stations_records(self, world: World, probe: Probe):
        gw = world.gateway
        device = {"Authorization": f"Bearer {world.devices['a']}"}
        a, b, station = world.ids["a"], world.ids["b"], world.stations["a"]["id"]
        today = clock.today().isoformat()
        pushes = {
            "project_id": {"cases": {"created": [{"id": fresh_id(), "beneficiary_id": a["beneficiary"],
                                                  "title": "平板个案", "station_id": station,
                                                  "project_id": b["project"]}]}},
            "volunteer_ids": {"activities": {"created": [{"id": fresh_id(), "project_id": a["project"],
                                                          "station_id": station, "title": "平板活动",
                                                          "held_on": today, "anonymous_count": 0, "photos": "[]",
                                                          "volunteer_ids": json.dumps([b["volunteer"]])}]}},
            "activity_ref": {"volunteer_hours": {"created": [{"id": fresh_id(), "volunteer_id": a["volunteer"],
                                                              "station_id": station, "served_on": today,
                                                              "hours": 1, "content": "平板服务",
                                                              "activity_kind": "community_activity",
                                                              "activity_ref": b["activity"]}]}},
        }
        for field, changes in pushes.items():
            stamp = (await gw.get("/v1/sync", params={"last_pulled_at": "null"}, headers=device)).json()["timestamp"]
            before = await probe.digest()
            r = await gw.post("/v1/sync", params={"last_pulled_at": stamp}, json=changes, headers=device)
            after = await probe.digest()
            changed = [t for t in before if before[t] != after[t] and not t.startswith("gateway.")]
            assert not changed, f"a push naming B's {field} changed {changed} ({r.status_code} {r.text[:200]})"
            assert r.status_code == 422, r.text
            assert [e["field"].rsplit(".", 1)[-1].split("[")[0] for e in r.json()["errors"]] == [field], r.text


class TestTheRulesBite:
    """The matrix's refusals mean something only if the same callers do see what is theirs."""

    async def test_a_volunteer_sees_their_own_records(self, world: World):
        me = world.callers[VOLUNTEER].headers
        volunteers = world.clients["volunteers"]
        r = await volunteers.get("/v1/volunteers/me", headers=me)
        assert r.status_code == 200 and r.json()["id"] in world.own
        own_id = r.json()["id"]
        assert (await volunteers.get(f"/v1/volunteers/{own_id}", headers=me)).status_code == 200
        for path in ("/v1/volunteer-hours", "/v1/certificates"):
            r = await volunteers.get(path, headers=me)
            assert r.status_code == 200 and r.json()["items"], r.text
            assert {item["volunteer_id"] for item in r.json()["items"]} == {own_id}

    async def test_officials_see_figures_and_contracts_of_their_subtree(self, world: World):
        official = world.callers["official@county"].headers
        today = clock.today()
        window = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
        r = await world.clients["cases"].get("/v1/cases/stats", headers=official, params=window)
        assert r.status_code == 200 and any(row["value"] for row in r.json()["rows"]), r.text
        r = await world.clients["projects"].get(f"/v1/projects/{world.ids['b']['project']}", headers=official)
        assert r.status_code == 200, r.text

    async def test_the_sibling_sees_its_own_station(self, world: World):
        worker = world.callers["social_worker@A"].headers
        r = await world.clients["cases"].get(f"/v1/cases/{world.ids['a']['case']}", headers=worker)
        assert r.status_code == 200
        r = await world.clients["cases"].get("/v1/beneficiaries", headers=worker)
        assert [b["id"] for b in r.json()["items"]] == [world.ids["a"]["beneficiary"]]
