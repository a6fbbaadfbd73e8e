"""GET and POST /v1/sync (WatermelonDB's pullChanges and pushChanges) and GET /v1/sync/schema.

Pull: every service's stream is opened (and its cursor read) before the first byte goes out,
so a service that is down is a clean 503 rather than a cut answer. Rows are then copied
through as they arrive, as bytes (unparsed, in the line layout of shared.contracts.sync.ndjson) and written in
chunks of about 64 KB, never gathered whole: a first sync of a large station costs the gateway
a chunk's memory at a time. The `timestamp` is written last, once all services have
been read: the id of a SyncCursor row holding each service's own cursor.

Push: split by table to the owning services, which go one after another, owners of parents first,
so attendance of a person new in the same push holds. Each part is one transaction; a push across
services is written once, every part but the last held as a prepared transaction until the last is
written (shared.prepared), or, where a service's database cannot prepare, dry-run by every service
before any writes. A service that fails after another wrote leaves the push half done; the tablet
retries it (it still holds all its changes) and, since a record already as pushed is left alone,
the retry converges.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.identity.repository import hot
from gateway.identity.service import devices
from gateway.models import Device, Station
from gateway.sync.limits import check_push_size, check_push_text
from gateway.sync.registry import Registry, registry
from gateway.upstream import Upstreams
from shared import prepared
from shared.audit import actor_of, log_reads
from shared.contracts.calls import services
from shared.contracts.sync import client as sync_contract
from shared.contracts.sync import ndjson
from shared.contracts.sync.schemas import PullQuery
from shared.db import Database
from shared.errors import PROBLEM, InvalidInput, Unauthorized
from shared.principals import Principal, device_principal
from shared.schemas import BIGINT_MAX, INT_MAX
from shared.streaming import ClosingStreamingResponse

log = logging.getLogger("haolin.gateway.sync")
router = APIRouter(prefix="/v1/sync", tags=["sync"])
KEEP_CURSORS = 5  # timestamps kept per device
bearer = HTTPBearer(auto_error=False, scheme_name="StationTablet",
                    description="For station tablets only (offline sync at /v1/sync): the device credential from "
                                "POST /v1/devices. People log in with Login, username and password.")


async def current_device(request: Request,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                         ) -> tuple[Device, Station]:
    if credentials is None:
        raise Unauthorized("Send the device credential as 'Authorization: Bearer <credential>'.")
    # On the raw read pool, a connection given back at once: a sync's calls to the services and its
    # streaming take seconds, and a pull asks for a connection again at its end (the timestamp). A
    # request-long session held through that starved the pool once as many tablets synced at once as it
    # had connections (bench scenario 8 at the province); tests/gateway/test_sync_flow.py TestConnectionsHeldBySync.
    found = await devices.authenticate(request.app.state.db.read_pool, credentials.credentials)
    if found is None:
        raise Unauthorized("This device credential is not valid or was revoked.")
    return found


DeviceDep = Annotated[tuple[Device, Station], Depends(current_device)]
# A service's opened pull: its name, what to close, its lines in batches.
Stream = tuple[str, sync_contract.Pull, AsyncIterator[list[bytes]]]


def _last_pulled_at(raw: str | None) -> int | None:
    # WatermelonDB sends the literal "null" on a first sync.
    if raw in (None, "", "null", "0"):
        return None
    try:
        value = _integer(raw)
    except (ValueError, OverflowError):  # not a number, NaN, infinity
        raise InvalidInput.field("last_pulled_at", "A number given by an earlier pull, or null.") from None
    if value <= 0:
        return None
    if value > BIGINT_MAX:  # a timestamp is a bigint row id: no device was ever given a larger one
        raise InvalidInput.field("last_pulled_at", "This device was never given that timestamp; "
                                                   "pull with last_pulled_at=null to start afresh.", "unknown_cursor")
    return value


def _integer(raw: str) -> int:
    """An integer as a JavaScript client may write one: "1712", "1712.0" or "1.712e3"."""
    try:
        return int(raw)  # exact, however many digits
    except ValueError:
        return int(float(raw))


async def _cursor(db: Database, device: Device, last_pulled_at: int | None) -> dict[str, str] | None:
    """Each service's cursor at the timestamp the tablet sent (None for a first sync), read on the raw
    read pool (see current_device)."""
    if last_pulled_at is None:
        return None
    cursors = await hot.sync_cursors(db.read_pool, last_pulled_at, device.id)
    if cursors is None:
        raise InvalidInput.field("last_pulled_at", "This device was never given that timestamp; "
                                                   "pull with last_pulled_at=null to start afresh.", "unknown_cursor")
    return cursors


@router.get("/schema")
async def schema(request: Request, version: Annotated[int | None, Query(ge=1)] = None) -> dict:
    """The synced tables and their columns (name, type, isOptional, isIndexed), ready for
    WatermelonDB's appSchema; each table says in which schema version it appeared.
    Columns marked readonly are served but never taken from a push; writeonly ones the reverse."""
    return (await registry(request.app.state)).describe(version)


@router.get("", summary="Pull changes (WatermelonDB pullChanges)")
async def pull(request: Request, device: DeviceDep,
               last_pulled_at: Annotated[str | None, Query(description="The timestamp of the last pull, or null")]
               = None,
               schema_version: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
               migration: Annotated[str | None, Query(description="WatermelonDB's migration JSON, or null")] = None
               ) -> ClosingStreamingResponse:
    """`{"changes": {table: {"created": [], "updated": [...], "deleted": [ids]}}, "timestamp": n}`.
    Everything is served as `updated` (set `sendCreatedAsUpdated: true` in synchronize()); a
    full pull (last_pulled_at null) adds `"experimentalStrategy": "replacement"`."""
    dev, station = device
    reg = await registry(request.app.state)
    version = schema_version or reg.version
    cursor = await _cursor(request.app.state.db, dev, _last_pulled_at(last_pulled_at))
    # A pull copies the station subtree's records to the tablet: one audit row, the subtree read.
    await log_reads(request, "station", [(str(station.id), station.path)], principal=_as_principal(dev, station))
    full = _migration_tables(reg, migration, version)
    upstreams: Upstreams = request.app.state.upstreams
    owners = services(upstreams, request.app.state.signer, dict.fromkeys(t.service for t in reg.tables))
    streams: list[Stream] = []
    cursors: dict[str, str] = {}
    try:
        for service in owners.values():
            tables = [t.name for t in reg.of(service.name, version)]
            query = PullQuery(station_path=station.path, since=cursor.get(service.name) if cursor is not None else None,
                              tables=tables, full_tables=[t for t in tables if t in full])
            opened = await sync_contract.pull(service, query)
            cursors[service.name] = opened.cursor
            streams.append((service.name, opened, opened.batches))
    except BaseException:
        for _, opened, _lines in streams:
            await opened.aclose()
        raise
    tables = [t.name for t in reg.tables if t.since <= version]
    db: Database = request.app.state.db
    return ClosingStreamingResponse(
        _assemble(streams, tables, db, dev.id, cursors, version, replacement=cursor is None),
        media_type="application/json")


def _as_principal(dev: Device, station: Station) -> Principal:
    return device_principal(str(dev.id), station.id, station.path, name=dev.name)


def _migration_tables(reg: Registry, migration: str | None, version: int) -> set[str]:
    """Tables to send whole to a tablet migrating from an older schema: those added, or given
    columns, after its old version (WatermelonDB's migration syncs need their old records too)."""
    if migration in (None, "", "null"):
        return set()
    try:
        parsed = json.loads(migration)
        old = int(parsed["from"])
    except (ValueError, TypeError, KeyError, OverflowError):
        raise InvalidInput.field("migration", "WatermelonDB's migration object: {from, tables, columns}.") from None
    if old >= version:
        return set()
    return {t.name for t in reg.tables if t.since <= version and t.added_after(old, version)}


CHUNK = 64 * 1024  # bytes gathered before a write: one ASGI send per chunk, not per row


async def _assemble(streams: list[Stream], tables: list[str], db: Database, device_id: int, cursors: dict[str, str],
                    version: int, replacement: bool) -> AsyncIterator[bytes]:
    """Copy the services' NDJSON into one WatermelonDB answer, table by table, in chunks of
    about CHUNK bytes: never more than a chunk and one batch of lines held.

    A full pull (no timestamp) says `"experimentalStrategy": "replacement"`: it serves no
    deletions, so a tablet that already holds records (one restored from a backup, whose
    timestamp the gateway no longer knows) must drop those the answer leaves out, which
    WatermelonDB does for that strategy while it keeps the tablet's unpushed new records and
    its unpushed edits of records still there. On an empty tablet it changes nothing."""
    seen: set[str] = set()
    out = bytearray(b'{"changes":{')
    try:
        first_table = True
        for _service, stream, batches in streams:
            current, deleting, comma = None, False, False  # table being written (as JSON), which list
            async for batch in batches:
                for key, value, gone in ndjson.read_lines(batch):
                    if key != current:
                        if current is not None:
                            out += b"]}" if deleting else b'],"deleted":[]}'
                        if not first_table:
                            out += b","
                        out += key + b':{"created":[],"updated":['
                        first_table, current, deleting, comma = False, key, False, False
                        seen.add(json.loads(key))
                    if gone and not deleting:
                        out += b'],"deleted":['
                        deleting, comma = True, False
                    if comma:
                        out += b","
                    out += value
                    comma = True
                if len(out) >= CHUNK:
                    yield bytes(out)
                    out.clear()
            if current is not None:
                out += b"]}" if deleting else b'],"deleted":[]}'
            await stream.aclose()
        for table in tables:
            if table not in seen:
                out += (b"" if first_table else b",") + json.dumps(table).encode() + \
                    b':{"created":[],"updated":[],"deleted":[]}'
                first_table = False
        # Every change goes out before the cursor that covers them is written.
        yield bytes(out)
        # A tablet pushes and pulls from its newest timestamp, or from one before it when the answer
        # that gave the newest was lost: a few are kept, older ones can never be used. One statement,
        # not the ORM's four round trips: about a tenth of the gateway's CPU per pull in the storm.
        timestamp = await hot.record_pull(db.read_pool, device_id, cursors, version, KEEP_CURSORS)
        strategy = b',"experimentalStrategy":"replacement"' if replacement else b""
        yield b'},"timestamp":' + str(timestamp).encode() + strategy + b"}"
    finally:
        for _, stream, _lines in streams:
            await stream.aclose()


@router.post("", summary="Push changes (WatermelonDB pushChanges)", status_code=204,
             responses={409: {"description": "A record changed on the server since last_pulled_at: pull, then push"}})
async def push(request: Request, device: DeviceDep,
               last_pulled_at: Annotated[str | None, Query()] = None) -> Response:
    dev, station = device
    cursor = await _cursor(request.app.state.db, dev, _last_pulled_at(last_pulled_at))
    try:
        changes = await request.json()
    except ValueError:
        raise InvalidInput.field("body", "The body must be WatermelonDB's changes object (JSON).") from None
    if isinstance(changes, dict) and "changes" in changes and isinstance(changes["changes"], dict):
        changes = changes["changes"]  # some clients send {changes, lastPulledAt}
    if not isinstance(changes, dict):
        raise InvalidInput.field("body", "The body must be an object of tables.")
    check_push_size(changes, request.app.state.settings.sync_max_push_records)
    check_push_text(changes)
    reg = await registry(request.app.state)
    by_service: dict[str, dict[str, Any]] = {}
    errors = []
    for name, part in changes.items():
        table = reg.table(name)
        if table is None:
            errors.append({"field": f"changes.{name}", "message": "This table is not synced.", "code": "unknown_table"})
            continue
        if not isinstance(part, dict):
            errors.append({"field": f"changes.{name}", "message": "Expected {created, updated, deleted}.",
                           "code": "type"})
            continue
        by_service.setdefault(table.service, {})[name] = {k: part.get(k) or [] for k in ("created", "updated",
                                                                                         "deleted")}
    if errors:
        raise InvalidInput("The push names tables this server does not sync.", errors=errors)

    # The device as a short-lived user token: a service that checks people through another
    # service (projects asks cases about attendees) passes it on, so that check is scoped to the device.
    device_token = request.app.state.signer.access_token(_as_principal(dev, station), ttl_s=300)
    address = actor_of(request).address

    # Every record the push creates or updates, by table: a service checking a reference to another
    # service's record finds the push's own (an activity naming a volunteer registered in the same
    # push), whatever the order the services take their parts in.
    pushed = {name: [r["id"] for kind in ("created", "updated") if isinstance(part[kind], list)
                     for r in part[kind] if isinstance(r, dict) and isinstance(r.get("id"), str)]
              for tables in by_service.values() for name, part in tables.items()}

    owners = services(request.app.state.upstreams, request.app.state.signer, by_service)
    limit = request.app.state.settings.sync_push_timeout_s

    async def send(service: str, provisional: dict, check_only: bool = False,
                   prepare: str | None = None) -> sync_contract.PushAnswer:
        body = {"station_id": station.id, "station_path": station.path, "device_id": str(dev.id),
                "since": cursor.get(service) if cursor is not None else None, "check_only": check_only,
                "prepare": prepare, "changes": by_service[service], "provisional": provisional,
                "pushed": {t: ids for t, ids in pushed.items() if t not in by_service[service] and ids}}
        return await sync_contract.push(owners[service], body, device_token, address, limit)

    def refused(answer: sync_contract.PushAnswer) -> Response:
        # The service's own problem (409 conflict, 403 out of scope, 422 invalid) names the
        # records; its `instance` is the path the tablet called, not the internal one.
        status, problem = answer.problem
        if isinstance(problem, dict):
            problem["instance"] = request.url.path
        return JSONResponse(problem, status_code=status, media_type=PROBLEM)

    # One service after another, in the registry's order (cases before projects): a service may
    # rely on records of the same push that an earlier one owns, as the earlier one describes them
    # (`provides`: a person new in the push, for their attendance).
    order = [s for s in dict.fromkeys(t.service for t in reg.tables) if s in by_service]
    if len(order) == 1:
        # Its write checks everything a dry run would and is one transaction, so a refused push
        # writes nothing (docs/performance.md, scenario 5a).
        answer = await send(order[0], {})
        return refused(answer) if answer.problem is not None else Response(status_code=204)
    if reg.two_phase.issuperset(order):
        return await _written_once(order, send, refused, owners, limit)
    # A service that cannot hold its part prepared: every service dry-runs its part first (rules,
    # scope, conflicts), each told what the earlier ones would create; then each writes.
    for check_only in (True, False):
        provisional: dict[str, list] = {}
        for service in order:
            answer = await send(service, provisional if check_only else {}, check_only=check_only)
            if answer.problem is not None:
                return refused(answer)
            provisional.update(answer.provides)
    return Response(status_code=204)


async def _written_once(order: list[str], send, refused, owners, limit: float) -> Response:
    """A push across services, each part written once (shared.prepared): every service but the last
    writes its part and holds it prepared, describing what it created; the last writes and commits
    its own on that description; then the prepared parts are committed. A refusal rolls back what
    is prepared, so a refused push writes nothing."""
    held: list[tuple[str, str]] = []
    provisional: dict[str, list] = {}
    done = False
    try:
        for service in order[:-1]:
            name = prepared.name_for(service, uuid.uuid4().hex)
            # Held from the moment it is asked for: a part prepared whose answer was lost is rolled
            # back now, not left locking its rows until its service's sweep.
            held.append((service, name))
            answer = await send(service, provisional, prepare=name)
            if answer.problem is not None:
                held.pop()  # refused: its service prepared nothing
                return refused(answer)
            provisional.update(answer.provides)
        answer = await send(order[-1], provisional)
        if answer.problem is not None:
            return refused(answer)
        done = True
    finally:
        if not done:
            # Refused, or no answer from a later service (which may have written its part: the push
            # is then half written, and converges when the tablet retries). What a rollback here
            # misses, the owner sweeps once it is abandoned.
            for service, name in held:
                await sync_contract.finish(owners[service], name, commit=False, timeout_s=limit)
    lost = [service for service, name in held
            if not await sync_contract.finish(owners[service], name, commit=True, timeout_s=limit)]
    if lost:
        # The later parts are written; these are not. A retry writes them and leaves the rest as pushed.
        raise sync_contract.SyncUnavailable(f"The {lost[0]} service did not write its part of the push: push again.",
                                            service=lost[0])
    return Response(status_code=204)
