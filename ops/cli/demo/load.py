"""Writing the demo: stations and users through the gateway's identity services (as `haolin
stations`/`users` do), then every record through the public API as the demo's own social
workers and station heads, so it is counted exactly as real work is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from gateway.identity.passwords import from_settings
from gateway.identity.repository import users as users_repo
from gateway.identity.schemas import StationCreate, UserCreate
from gateway.identity.service import stations as stations_service
from gateway.identity.service import users as users_service
from gateway.identity.service.rules import KIND_TIER
from ops.cli import api, repository
from ops.cli.context import CliError, as_operator
from ops.cli.demo.plan import AFTER, CasePlan, CountyPlan, Plan, TownshipPlan

# How long a write may wait for the services to learn a new station (the running gateway pushes
# the tree every GATEWAY_STATION_PUSH_INTERVAL_S, 5 s by default).
REPLICATION_WAIT_S = 60.0
# Townships written at once: enough to overlap the round trips, few enough for a 2-core laptop.
CONCURRENCY = 3


@dataclass
class Identity:
    stations: dict[str, int] = field(default_factory=dict)  # code -> id
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    created_stations: int = 0
    created_users: int = 0


async def write_identity(plan: Plan, password: str) -> Identity:
    """The demo's stations (matched by division code) and users (matched by username; an existing
    demo user gets this run's password, so the one printed at the end always works)."""
    out = Identity()
    async with as_operator() as (session, actor, cfg):
        root = await stations_service.readable(session, actor, actor.station_id)
        if KIND_TIER[root.kind] >= KIND_TIER["city"]:
            raise CliError(f"the demo province needs a province root station; this platform's root is a {root.kind}")
        for place in plan.places:
            station = await repository.station_by_code(session, place.code)
            if station is None:
                parent_id = out.stations[place.parent_code] if place.parent_code else root.id
                station = await stations_service.create(session, actor, StationCreate(
                    parent_id=parent_id, kind=place.kind, name=place.name, code=place.code))
                out.created_stations += 1
            elif station.kind != place.kind:
                raise CliError(f"station {place.code} exists as a {station.kind}, the demo wants a {place.kind}")
            place.id = out.stations[place.code] = station.id
        out.stations["root"] = root.id
        passwords = from_settings(cfg)
        for user in plan.users:
            station_id = out.stations[user.station_code]
            existing = await users_repo.by_username(session, user.username)
            if existing is None:
                made = await users_service.create(session, actor, UserCreate(
                    username=user.username, display_name=user.display_name, role=user.role, station_id=station_id,
                    password=password), passwords)
                out.users[user.username] = made.user.id
                out.created_users += 1
            else:
                target = await users_service.in_scope(session, actor, existing.id, for_update=True)
                await users_service.reset_password(session, actor, target, password, passwords)
                out.users[user.username] = existing.id
    return out


class Writer:
    """One demo user's session on the API: logs in when first needed and again when the token
    expires, waits out the login rate limit and the services' replication of new stations."""

    def __init__(self, http: httpx.AsyncClient, username: str, password: str, identity: Identity) -> None:
        self.http, self.username, self.password, self.identity = http, username, password, identity
        self.headers: dict[str, str] | None = None
        self._login = asyncio.Lock()

    async def _headers(self, stale: dict | None = None) -> dict[str, str]:
        async with self._login:
            if self.headers is None or self.headers is stale:
                self.headers = await api.login(self.http, self.username, self.password)
            return self.headers

    def resolve(self, body: dict) -> dict:
        """Plan bodies name stations by division code (`_station`); the API wants ids."""
        out = {k: v for k, v in body.items() if not k.startswith("_")}
        if "_station" in body:
            out["station_id"] = self.identity.stations[body["_station"]]
        if "_covered" in body:
            out["covered_station_ids"] = [self.identity.stations[c] for c in body["_covered"]]
        if "_login" in body:
            out["user_id"] = str(self.identity.users[body["_login"]])
        return out

    async def send(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        headers = await self._headers()
        waited, renewed = 0.0, False
        while True:
            try:
                reply = await self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as exc:
                raise CliError(f"{method} {path}: the gateway did not answer ({type(exc).__name__})") from None
            if reply.status_code == 401 and not renewed:
                # The access token expired during a long run: log in again, once per request.
                headers, renewed = await self._headers(stale=headers), True
                continue
            if _not_replicated_yet(reply) and waited < REPLICATION_WAIT_S:
                await asyncio.sleep(0.5)
                waited += 0.5
                continue
            return reply

    async def create(self, path: str, body: dict) -> tuple[dict, bool]:
        """(record, created now). A record a previous run made is answered as it is."""
        body = self.resolve(body)
        reply = await self.send("POST", path, body)
        if reply.status_code in (200, 201):
            return reply.json(), reply.status_code == 201
        if reply.status_code == 409 and _code(reply) == "id_in_use":
            # Made by an earlier run on another day (its dates differ): keep the one that exists.
            existing = await self.send("GET", f"{path}/{body['id']}")
            if existing.status_code == 200:
                return existing.json(), False
        raise CliError(f"POST {path} as {self.username}: {api.problem(reply)}")

    async def upload(self, path: str, params: dict, name: str, content: bytes) -> dict:
        """A file to an import route (the roster), as the API's multipart form."""
        headers = await self._headers()
        reply = await self.http.post(path, params=params, headers=headers,
                                     files={"file": (name, content, "text/csv")})
        if reply.status_code not in (200, 201):
            raise CliError(f"POST {path} as {self.username}: {api.problem(reply)}")
        return reply.json()

    async def act(self, path: str, body: dict | None = None, ok: tuple[int, ...] = (200,)) -> dict:
        reply = await self.send("POST", path, body or {})
        if reply.status_code not in ok:
            raise CliError(f"POST {path} as {self.username}: {api.problem(reply)}")
        return reply.json() if reply.content else {}


def _code(reply: httpx.Response) -> str | None:
    try:
        errors = reply.json().get("errors") or []
    except (ValueError, AttributeError):
        return None
    return errors[0].get("code") if errors and isinstance(errors[0], dict) else None


def _not_replicated_yet(reply: httpx.Response) -> bool:
    """A station the services have not learnt yet: named in a field (422), or the caller's own (503)."""
    if reply.status_code == 422:
        return _code(reply) == "unknown_station"
    return reply.status_code == 503 and reply.json().get("type", "").endswith("/station-not-replicated")


async def write_records(plan: Plan, identity: Identity, http: httpx.AsyncClient, password: str,
                        advance: Callable[[int], None]) -> None:
    writers: dict[str, Writer] = {}

    def writer(username: str) -> Writer:
        if username not in writers:
            writers[username] = Writer(http, username, password, identity)
        return writers[username]

    gate = asyncio.Semaphore(CONCURRENCY)

    async def township(county: CountyPlan, town: TownshipPlan) -> None:
        async with gate:
            await _township(writer(town.worker), writer(county.head), town, advance)

    for county in plan.counties:
        head = writer(county.head)
        # The demo walks its cases to their planned states on its own: no supervisor's approval.
        rule = await head.send("PUT", f"/v1/approval-rules/{identity.stations[county.county.code]}", {"steps": []})
        if rule.status_code != 200:
            raise CliError(f"PUT /v1/approval-rules as {head.username}: {api.problem(rule)}")
        project, _ = await head.create("/v1/projects", county.project)
        advance(1)
        if project["status"] == "planned":
            await head.act(f"/v1/projects/{project['id']}/start")
        advance(1)
    await asyncio.gather(*(township(c, t) for c in plan.counties for t in c.townships))
    for county in plan.counties:
        await _supervision(writer(county.head), county, identity, writer, plan.today)


async def _supervision(head: Writer, county: CountyPlan, identity: Identity,
                       writer: Callable[[str], Writer], today: date) -> None:
    """The county's supervisor assigned to the county, and one on-site session at each township
    discussing two of its cases (made on the first run only: sessions have no client id)."""
    login = county.head.removesuffix(".head") + ".supervisor"
    await head.create("/v1/supervisor-assignments", {"supervisor_id": str(identity.users[login]),
                                                    "station_id": identity.stations[county.county.code]})
    supervisor = writer(login)
    done = await supervisor.send("GET", "/v1/supervision-records?limit=1")
    if done.status_code != 200:
        raise CliError(f"GET /v1/supervision-records as {login}: {api.problem(done)}")
    if done.json()["items"]:
        return
    held_on = (today - timedelta(days=7)).isoformat()
    for town in county.townships:
        station_id = identity.stations[town.township.code]
        cases = await supervisor.send("GET", f"/v1/cases?station_id={station_id}&limit=2")
        if cases.status_code != 200:
            raise CliError(f"GET /v1/cases as {login}: {api.problem(cases)}")
        await supervisor.create("/v1/supervision-records", {
            "station_id": station_id, "held_on": held_on, "worker_ids": [str(identity.users[town.worker])],
            "mode": "on_site", "duration_minutes": 120, "topics": ["个案研讨", "服务计划审阅"],
            "case_ids": [c["id"] for c in cases.json()["items"]]})


async def _township(worker: Writer, head: Writer, town: TownshipPlan, advance: Callable[[int], None]) -> None:
    for body in town.beneficiaries:
        await worker.create("/v1/beneficiaries", body)
        advance(1)
    for case in town.cases:
        await _case(worker, case, advance)
    if town.roster:
        # A later run lists the same people again: nothing changes, nobody leaves.
        text, listed_on = town.roster
        await worker.upload("/v1/rosters/import", {"station_id": worker.identity.stations[town.township.code],
                                                   "listed_on": listed_on.isoformat()},
                            f"{town.township.code}-名册.csv", text.encode())
        advance(1)
    for person, body in town.visits:
        await worker.create(f"/v1/beneficiaries/{person}/visits", body)
        advance(1)

    team, _ = await worker.create("/v1/teams", town.team)
    advance(1)
    for body in town.volunteers:
        # Linking a volunteer to a login is for station heads.
        volunteer, _ = await (head if "_login" in body else worker).create("/v1/volunteers", body)
        await _join(worker, team["id"], volunteer["id"])
        advance(2)
    for group in town.groups:
        made, _ = await worker.create("/v1/groups", group.body)
        advance(1)
        for session in group.sessions:
            await worker.create(f"/v1/groups/{made['id']}/sessions", session)
            advance(1)
    # After the volunteers they name; before the hours that name them.
    for body in town.activities:
        await worker.create("/v1/activities", body)
        advance(1)
    for body, confirm in town.hours:
        hours, _ = await worker.create("/v1/volunteer-hours", body)
        advance(1)
        if confirm:
            if hours["status"] == "recorded":
                await worker.act(f"/v1/volunteer-hours/{hours['id']}/confirm", {})
            advance(1)


async def _join(worker: Writer, team_id: str, volunteer_id: str) -> None:
    reply = await worker.send("PUT", f"/v1/teams/{team_id}/members/{volunteer_id}", {})
    if reply.status_code not in (200, 201):
        raise CliError(f"PUT /v1/teams/.../members as {worker.username}: {api.problem(reply)}")


async def _case(worker: Writer, case: CasePlan, advance: Callable[[int], None]) -> None:
    made, created = await worker.create("/v1/cases", case.body)
    advance(1)
    for kind, body in case.records:
        await worker.create(f"/v1/cases/{made['id']}/{kind}", body)
        advance(1)
    done = 0
    if not created:
        # Resume a walk an earlier run left half done: its steps are the case's events.
        reply = await worker.send("GET", f"/v1/cases/{made['id']}/events")
        if reply.status_code != 200:
            raise CliError(f"GET /v1/cases/.../events: {api.problem(reply)}")
        done = sum(1 for e in reply.json()["items"] if e["action"] in AFTER)
    advance(min(done, len(case.steps)))
    for action, body in case.steps[done:]:
        await worker.act(f"/v1/cases/{made['id']}/{action}", body)
        advance(1)


async def summary(http: httpx.AsyncClient, plan: Plan, password: str) -> dict[str, Any]:
    """The province's figures over the demo's year, as its civil-affairs official sees them."""
    headers = await api.login(http, plan.official, password)
    params = {"from": (plan.today - timedelta(days=364)).isoformat(), "to": plan.today.isoformat()}
    reply = await http.get("/v1/stats/summary", params=params, headers=headers)
    if reply.status_code != 200:
        raise CliError(f"GET /v1/stats/summary: {api.problem(reply)}")
    return reply.json()
