"""Offline sync of the projects service: groups, their sessions, community activities and named
attendance, pulled by and pushed from station tablets (ARCHITECTURE.md "Offline sync for station
tablets"; the machinery is shared/sync.py, mounted in app.py as internal_sync_router(TABLES)).

A pushed record is written by the same service functions as the REST API (services/projects/
service/...): the project's period and stations, the counting rollups and person-days, so what a
tablet records counts in the dashboards exactly like a REST write. A push's new activities and new
attendances are each written in one batch (`SyncTable.create_many`: the services' lean paths,
activities.create_many and attendance.add_many, which REST's creates take too). The device acts as a social
worker of its station; an update carries only the fields that differ from the stored record and
is applied at the record's current version (conflicts were checked by shared/sync.py before).
Parents decide scope: a session's station is its group's, an attendance's is its session's or
activity's, and a parent the device cannot read (or an unknown one) answers 403 naming the record,
as does a group or activity filed at a station outside the device's subtree or under a project it
cannot see.

References to other services' records. A named attendee or group member must be a beneficiary
the writer can see (an attendance copies the person's populations at attendance time), and an
activity's volunteers volunteers the writer can see. REST asks their owners through the gateway
with the caller's own token (shared/contracts/lookup); a push asks as the pushing device, with the access
token the gateway sends beside its service token (shared.sync.DEVICE_TOKEN_HEADER), verified and
bound to the pushed subtree; a push referring to people without it is refused (401
device-token-required), never written unchecked. One lookup answers every person a push names
(not a call per attendance); people new in the same push are taken from the cases service's dry
run, volunteers new in it from the push itself (shared.contracts.lookup.client.PushAsker).

ProjectsSyncTable recognises a retried push by comparing decoded values ('["a","b"]' and
'["a", "b"]', "09:30" and "09:30:00", 350.5 and 350.50, "" and null in an optional text are the
same), not raw wire values, which would answer a tablet's retry with a spurious 409.

shared/sync.py applies tables in TABLES order, parents first, deletes included: a record that an
earlier write of the same push deleted (a group's delete tombstones its sessions and attendance)
is reloaded here and left deleted, so its counts are never taken back twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Attachment, Attendance, Group, GroupSession, Station
from services.projects.schemas.work import (ActivityCreate, ActivityUpdate, AttendeeInput, GroupCreate, GroupUpdate,
                                            SessionCreate, SessionUpdate)
from services.projects.repository import attendance as attendance_repo
from services.projects.repository import projects as projects_repo
from services.projects.service import activities as activity_service
from services.projects.service import attendance as attendance_service
from services.projects.service import groups as group_service
from services.projects.service import references
from shared.db import raw_connection
from shared.errors import InvalidInput, NotFound
from shared.contracts.lookup.client import PushAsker
from shared.repository import get_live
from shared.stations import resolve_station
from shared.attachments.tablet import attachment_sync_table
from shared.sync import TIMESTAMPS, ManyCreator, SyncColumn, SyncContext, SyncTable, named_error

# How a column's wire value maps to what the REST schemas take (all others: as they come).
JSON_LISTS = frozenset({"members", "volunteer_ids", "photos", "populations"})
DATES = frozenset({"starts_on", "held_on"})
TIMES = frozenset({"starts_at", "ends_at"})
DECIMALS = frozenset({"resources_yuan"})


# ---------------------------------------------------------------- wire values

def _json_list(name: str, value: Any) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput.field(name, "Must be a JSON array, as text.", "json_text") from None
    if not isinstance(value, list):
        raise InvalidInput.field(name, "Must be a JSON array, as text.", "json_text")
    return value


def _decode(column: SyncColumn, value: Any) -> Any:
    """A pushed wire value as the REST schemas take it; pydantic validates the rest."""
    name = column.name
    if name in JSON_LISTS:
        return _json_list(name, value)
    if value == "" and column.optional:
        return None  # WatermelonDB keeps empty text fields as ""
    if name in DATES | TIMES and value is not None and not isinstance(value, str):
        what = "a date as YYYY-MM-DD" if name in DATES else "a time as HH:MM"
        raise InvalidInput.field(name, f"Must be {what}, as text.", "wire_type")
    if name in DECIMALS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _canon(column: SyncColumn, value: Any) -> Any:
    """A wire value in a form where equal meanings compare equal (served or pushed)."""
    try:
        if column.name in JSON_LISTS:
            return _json_list(column.name, value)
        if value == "" and column.optional:
            return None
        if column.name in TIMES and isinstance(value, str):
            return time.fromisoformat(value)
        if column.type == "number" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return Decimal(str(value))
    except (InvalidInput, ValueError, InvalidOperation):
        pass
    return value


@dataclass(frozen=True)
class ProjectsSyncTable(SyncTable):
    # Set when the record is made, never changed by an update (a session's group, an
    # attendance's person): a push changing one answers 422 naming it.
    fixed: frozenset[str] = frozenset()

    def same(self, record: Any, row: dict, vault: Any = None) -> bool:
        state = sa_inspect(record, raiseerr=False)
        if state is not None and state.expired_attributes:
            # Expired by an earlier write of this push (a group's delete tombstones its sessions):
            # reading it here would need I/O; the adapter reloads it and decides.
            return False
        served = self.serve(record)
        by_name = {c.name: c for c in self.columns}
        return all(_canon(by_name[k], served.get(k)) == _canon(by_name[k], v)
                   for k, v in self.pushed(row).items() if k in served)

    def decoded(self, row: dict) -> dict:
        """The pushed writable fields, decoded; a create leaves out nulls so defaults apply."""
        by_name = {c.name: c for c in self.columns}
        out = {k: _decode(by_name[k], v) for k, v in self.pushed(row).items()}
        return {k: v for k, v in out.items() if v is not None}

    def changes(self, record: Any, row: dict) -> dict:
        """The pushed writable fields that differ from the stored record, decoded (null clears)."""
        served = self.serve(record)
        by_name = {c.name: c for c in self.columns}
        out = {}
        for k, v in self.pushed(row).items():
            column = by_name[k]
            if _canon(column, v) == _canon(column, served.get(k)):
                continue
            if k in self.fixed:
                raise InvalidInput.field(k, "This cannot be changed once the record is made.", "immutable")
            out[k] = _decode(column, v)
        return out


def _str(name: str, **kw) -> SyncColumn:
    return SyncColumn(name, "string", **kw)


def _num(name: str, **kw) -> SyncColumn:
    return SyncColumn(name, "number", **kw)


# ---------------------------------------------------------------- shared steps

async def _named(ctx: SyncContext) -> list[str]:
    """Every beneficiary id the push names (attendees, group members): asked in one go."""
    try:
        changes = (await ctx.request.json()).get("changes") or {}
    except Exception:  # noqa: BLE001 - only an optimisation; ids are then asked as needed
        return []
    ids: list[str] = []
    for row in _rows(changes, "attendances"):
        ids.append(row.get("beneficiary_id"))
    for row in _rows(changes, "groups"):
        try:
            ids.extend(_json_list("members", row.get("members")))
        except InvalidInput:
            pass
    return [i for i in ids if isinstance(i, str) and i]


def _rows(changes: dict, table: str) -> list[dict]:
    entry = changes.get(table) or {}
    return [r for r in [*(entry.get("created") or []), *(entry.get("updated") or [])] if isinstance(r, dict)]


def _asker(ctx: SyncContext) -> PushAsker:
    """The push's lookups, as the device: one call for every person the push names; people new in
    this push come from the cases service's dry run, volunteers new in it from the push itself."""
    if not hasattr(ctx, "projects_asker"):
        ctx.projects_asker = PushAsker(ctx.request.app.state.lookup, ctx,
                                       provisional={references.BENEFICIARIES: "beneficiaries"},
                                       same_push={references.VOLUNTEERS: "volunteers"},
                                       prefetch={references.BENEFICIARIES: lambda: _named(ctx)})
    return ctx.projects_asker


async def _current(session: AsyncSession, record: Any) -> Any | None:
    """The record as stored now, or None when an earlier write of this push deleted it (a group's
    delete tombstones its sessions and their attendance): deleted stays deleted."""
    await session.flush()  # keep what earlier writes of this push changed on it in memory
    await session.refresh(record)
    return None if record.deleted_at is not None else record


async def _changes(session: AsyncSession, table: ProjectsSyncTable, record: Any, row: dict) -> dict:
    """What an update changes on a record still live: nothing when an earlier write of this push
    deleted it (see _current) or when the row is a retry."""
    if await _current(session, record) is None:
        return {}
    return table.changes(record, row)


def _filed_table(name: str, model: type, service: ModuleType, create_schema: type[BaseModel],
                 update_schema: type[BaseModel], *columns: SyncColumn,
                 create_many: ManyCreator | None = None) -> ProjectsSyncTable:
    """The table of records filed at a station under a project (groups, activities), written by
    their service module (service/groups.py, service/activities.py): the project and the station
    (null: the device's) come first and are fixed once the record is made, then `columns`.
    `create_many`: the push's new records at once, by the service's lean path."""

    async def create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
        body = create_schema(id=row["id"], **table.decoded(row))
        await _station(session, ctx, body.station_id)
        project = await _project(session, ctx, body.project_id)
        await service.create(session, _asker(ctx), ctx.principal, project, body)

    async def update(session: AsyncSession, ctx: SyncContext, record: Any, row: dict) -> None:
        if not (changes := await _changes(session, table, record, row)):
            return
        project = await group_service.project_of(session, record)
        await service.update(session, _asker(ctx), ctx.principal, project, record, record.version,
                             update_schema(**changes))

    async def delete(session: AsyncSession, ctx: SyncContext, record: Any) -> None:
        if (record := await _current(session, record)) is not None:
            await service.delete(session, ctx.principal, record, record.version)

    table = ProjectsSyncTable(
        name=name, model=model,
        columns=(
            _str("project_id", optional=False, indexed=True),
            _num("station_id"),
            *columns,
            *TIMESTAMPS,
        ),
        create=create, update=update, delete=delete, create_many=create_many,
        fixed=frozenset({"project_id", "station_id"}),
    )
    return table


async def _station(session: AsyncSession, ctx: SyncContext, station_id: int | None) -> None:
    """The station a new group or activity is filed at must lie in the device's subtree."""
    try:
        await resolve_station(session, Station, ctx.principal, station_id)
    except InvalidInput:
        raise NotFound("No such station in the device's subtree.") from None


async def _project(session: AsyncSession, ctx: SyncContext, project_id: str):
    try:
        return await group_service.project_for_work(session, ctx.principal, project_id)
    except InvalidInput:
        raise NotFound("No such project in the device's scope.") from None


async def _parent(session: AsyncSession, ctx: SyncContext, model, record_id: Any, field: str):
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInput.field(field, "Field required.", "missing")
    record = await get_live(session, model, record_id, ctx.principal, for_update=True)
    if record is None:
        raise NotFound(f"No such {model.__tablename__} in the device's subtree.")
    return record


# ---------------------------------------------------------------- groups

GROUPS = _filed_table(
    "groups", Group, group_service, GroupCreate, GroupUpdate,
    _str("title", optional=False),
    _str("kind"),
    _str("target_population"),
    _num("planned_sessions"),
    _str("stage"),  # null: "preparation"
    _str("starts_on"),  # null: today
    _str("members", optional=False),
)


# ---------------------------------------------------------------- group sessions

async def create_session(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    fields = GROUP_SESSIONS.decoded(row)
    group_id = fields.pop("group_id", None)
    body = SessionCreate(id=row["id"], **fields)
    group = await _parent(session, ctx, Group, group_id, "group_id")
    project = await group_service.project_of(session, group)
    await group_service.add_session(session, _asker(ctx), ctx.principal, project, group, body)


async def update_session(session: AsyncSession, ctx: SyncContext, record: GroupSession, row: dict) -> None:
    if not (changes := await _changes(session, GROUP_SESSIONS, record, row)):
        return
    body = SessionUpdate(**changes)
    # Not locked: the group's writes that move its sessions' counts lock the sessions (as here).
    group = await session.get(Group, record.group_id)
    project = await group_service.project_of(session, group)
    await group_service.update_session(session, ctx.principal, project, group, record, record.version, body)


async def delete_session(session: AsyncSession, ctx: SyncContext, record: GroupSession) -> None:
    if (record := await _current(session, record)) is None:
        return
    group = await session.get(Group, record.group_id)
    await group_service.delete_session(session, ctx.principal, group, record, record.version)


GROUP_SESSIONS = ProjectsSyncTable(
    name="group_sessions", model=GroupSession,
    columns=(
        _str("group_id", optional=False, indexed=True),
        _str("project_id", optional=False, indexed=True, readonly=True),
        _num("station_id", optional=False, readonly=True),
        _str("held_on", optional=False),
        _str("starts_at"),
        _str("topic"),
        _num("anonymous_count", optional=False),
        _num("named_count", optional=False, readonly=True),
        _str("notes"),
        *TIMESTAMPS,
    ),
    create=create_session, update=update_session, delete=delete_session,
    fixed=frozenset({"group_id"}),
)


# ---------------------------------------------------------------- activities

async def create_activities(session: AsyncSession, ctx: SyncContext, rows: list[dict]) -> None:
    """The push's new activities in one batch, by the lean path (activity_service.create_many): each row read
    and checked as the one-by-one `create` of _filed_table does (its body, its station in the device's
    subtree, its project one the device may file under: 403 naming the row when not), then all written
    with one statement per step."""
    bodies = []
    for row in rows:
        try:
            bodies.append(ActivityCreate(id=row["id"], **ACTIVITIES.decoded(row)))
        except (ValidationError, InvalidInput) as exc:
            raise named_error(ACTIVITIES, row["id"], exc) from None
    projects = {p.id: p for p in await projects_repo.visible_by_ids(
        session, ctx.principal, sorted({body.project_id for body in bodies}))}
    stations: set[int | None] = set()
    for row, body in zip(rows, bodies, strict=True):
        try:
            if body.station_id not in stations:
                await _station(session, ctx, body.station_id)
                stations.add(body.station_id)
            if body.project_id not in projects:
                raise NotFound("No such project in the device's scope.")
        except (InvalidInput, NotFound) as exc:
            raise named_error(ACTIVITIES, row["id"], exc) from None
    await activity_service.create_many(
        session, _asker(ctx), ctx.principal, [(projects[body.project_id], body) for body in bodies],
        named=lambda i, exc: named_error(ACTIVITIES, rows[i]["id"], exc))


ACTIVITIES = _filed_table(
    "activities", Activity, activity_service, ActivityCreate, ActivityUpdate,
    _str("title", optional=False),
    _str("kind"),
    _str("place"),
    _str("held_on", optional=False),
    _str("starts_at"),
    _str("ends_at"),
    _num("anonymous_count", optional=False),
    _num("named_count", optional=False, readonly=True),
    _str("volunteer_ids", optional=False),
    _num("resources_yuan"),
    _str("photos", optional=False),
    _str("notes"),
    create_many=create_activities,
)


# ---------------------------------------------------------------- attendance

async def _occasion(session: AsyncSession, ctx: SyncContext, fields: dict):
    name, occasion_id = _occasion_key(fields)
    return await _parent(session, ctx, attendance_repo.MODELS[name], occasion_id, name)


async def create_attendance(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    fields = ATTENDANCES.decoded(row)
    body = AttendeeInput(id=row["id"], beneficiary_id=fields.get("beneficiary_id"))
    occasion = await _occasion(session, ctx, fields)
    kept, _ = await attendance_service.add_one(session, _asker(ctx), ctx.principal, occasion, body)
    if kept.id != body.id:
        # Another tablet recorded the same person at the same occasion first (attendance_service._kept_values).
        await attendance_service.keep_pushed_id(session, ctx.principal, kept, body.id)


def _occasion_key(fields: dict) -> tuple[str, str]:
    """The occasion a pushed attendance names, as (attendance column, id); `_occasion`'s checks."""
    session_id, activity_id = fields.get("session_id"), fields.get("activity_id")
    if (session_id is None) == (activity_id is None):
        raise InvalidInput.field("session_id", "Give the session or the activity attended, one of the two.",
                                 "one_occasion")
    name, value = ("session_id", session_id) if session_id is not None else ("activity_id", activity_id)
    if not isinstance(value, str) or not value:
        raise InvalidInput.field(name, "Field required.", "missing")
    return name, value


async def create_attendances(session: AsyncSession, ctx: SyncContext, rows: list[dict]) -> None:
    """The push's new attendances in one batch, by the lean path (attendance_service.add_many): each row read
    and checked as `create_attendance` does, then all written with one statement per step."""
    keys, bodies = [], []
    for row in rows:
        try:
            fields = ATTENDANCES.decoded(row)
            bodies.append(AttendeeInput(id=row["id"], beneficiary_id=fields.get("beneficiary_id")))
            keys.append(_occasion_key(fields))
        except (ValidationError, InvalidInput) as exc:
            raise named_error(ATTENDANCES, row["id"], exc) from None
    conn = await raw_connection(session)
    occasions = await attendance_repo.lock_occasions(conn, ctx.principal, keys)
    for row, key in zip(rows, keys, strict=True):
        if key not in occasions:
            raise named_error(ATTENDANCES, row["id"],
                              NotFound(f"No such {attendance_repo.MODELS[key[0]].__tablename__} in the device's subtree."))
    await attendance_service.add_many(
        session, _asker(ctx), ctx.principal, [(occasions[k], b) for k, b in zip(keys, bodies, strict=True)],
        keep_pushed_ids=True, named=lambda i, exc: named_error(ATTENDANCES, rows[i]["id"], exc))


async def update_attendance(session: AsyncSession, ctx: SyncContext, record: Attendance, row: dict) -> None:
    # Every writable field is fixed: an update changing one answers 422; one changing nothing is a retry.
    if (record := await _current(session, record)) is not None:
        ATTENDANCES.changes(record, row)


async def delete_attendance(session: AsyncSession, ctx: SyncContext, record: Attendance) -> None:
    if (record := await _current(session, record)) is None:
        return
    model, occasion_id = (GroupSession, record.session_id) if record.session_id else (Activity, record.activity_id)
    occasion = await get_live(session, model, occasion_id, ctx.principal, for_update=True)
    if occasion is not None:
        await attendance_service.remove_one(session, ctx.principal, occasion, record.beneficiary_id)


ATTENDANCES = ProjectsSyncTable(
    name="attendances", model=Attendance,
    columns=(
        _str("session_id", indexed=True),
        _str("activity_id", indexed=True),
        _str("beneficiary_id", optional=False, indexed=True),
        _num("station_id", optional=False, readonly=True),
        # Copied from the beneficiary by the service when the attendance is recorded.
        _str("populations", optional=False, readonly=True),
        *TIMESTAMPS,
    ),
    create=create_attendance, update=update_attendance, delete=delete_attendance, create_many=create_attendances,
    fixed=frozenset({"session_id", "activity_id", "beneficiary_id"}),
)


# Parents before children: shared/sync.py applies a push in this order.
# Attachments last: read-only, made by the tablets' uploads (shared/attachments/tablet.py).
TABLES: list[SyncTable] = [GROUPS, GROUP_SESSIONS, ACTIVITIES, ATTENDANCES,
                           attachment_sync_table("project_attachments", Attachment)]
