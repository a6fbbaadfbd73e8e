"""The volunteers service's synced tables (shared.sync): volunteers and their service hours.

Pushed records are written by the same service functions as the REST API (validation,
the 24-hours-a-day rule, counting rollups, served days, certified hours), so they count
in the dashboard figures like REST ones. The device acts as a social worker of its station.

What the wire shows of a volunteer: never the ID number or phone (stored only encrypted;
no masked form is stored to serve), which a tablet may still push (`writeonly`, served as
null); a pushed value counts only when the tablet changed it (shared.sync.SyncTable.pushed).
Guardian consent travels flat (guardian_name, guardian_relation, guardian_consent_on).
Fields fixed at registration (ID type and number, birth date, volunteer number, station)
cannot change on an update: pushing a different value is refused.

Service hours: `status` and `dispute_reason` move only by the lifecycle actions. The REST
API has no plain edit of a record: its service fields change by a correction, so a pushed
change is a correction (status `corrected`, the earlier version kept in the history) with
the pushed `correction_reason`, or a note naming the device.

A deleted volunteer who has service hours or certificates is marked left instead (the
service keeps such records); the change is served back, so the tablet gets the record again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from pydantic import BaseModel, ValidationError

from services.volunteers.errors import DuplicateIdNumber
from services.volunteers.models import Attachment, ServiceHours, Station, Team, Volunteer
from services.volunteers.repository import volunteers as volunteers_repo
from services.volunteers.schemas.hours import CorrectionInput, HoursCreate
from services.volunteers.schemas.volunteers import (
    VolunteerCreate,
    VolunteerUpdate,
    normalise_document,
)
from services.volunteers.service import hours as hours_service
from services.volunteers.service import references
from services.volunteers.service import volunteers as volunteers_service
from shared.errors import InvalidInput, NotFound
from shared.contracts.lookup.client import PushAsker
from shared.repository import get_live
from shared.stations import resolve_station
from shared.attachments.tablet import attachment_sync_table
from shared.sync import TIMESTAMPS, SyncColumn, SyncContext, SyncTable, named_error, wire


@dataclass(frozen=True)
class VolunteersTable(SyncTable):
    """A SyncTable that also knows which columns hold JSON-text lists, times of day, and values
    the server fills in when a push leaves them null; pushed values are put in the form the
    server serves them, so a retried push compares equal to what it wrote."""

    lists: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset()
    defaulted: frozenset[str] = frozenset()
    # (vault, record, row) -> the fields the row changes, write-only ones compared decrypted; the
    # update's own comparison. Tables without one hold no stored write-only value (hours' reason).
    changes: Callable[[Any, Any, dict], dict] | None = None

    @property
    def _numbers(self) -> set[str]:
        return {c.name for c in self.columns if c.type == "number"}

    def serve(self, record: Any, vault: Any = None) -> dict:
        row = super().serve(record)
        for name in self.times:
            row[name] = _clock(getattr(record, name))
        return row

    def pull_row(self, values: Mapping[str, Any], vault: Any = None) -> dict:
        row = self.wire_row(values)
        for name in self.times:
            row[name] = _clock(values[name])
        return row

    def same(self, record: Any, row: dict, vault: Any = None) -> bool:
        # A write-only value the push gives (an ID number, a phone) is served as null, so it is
        # compared with the stored value decrypted, as the update compares it: a push retried
        # without a pull in between is then no conflict. A correction's reason is a note on a
        # change, not state.
        if self.changes is not None and self.writeonly & self.pushed(row).keys():
            try:
                if self.changes(vault, record, row):
                    return False
            except InvalidInput:
                return False
        return super().same(record, row, vault)

    def pushed(self, row: dict) -> dict:
        out = {}
        for name, value in super().pushed(row).items():
            if isinstance(value, str):
                value = value.strip()
            if value in (None, "") and name in self.defaulted:
                continue  # the server's value stands: a tablet that never had it sends null
            if name in self.lists and isinstance(value, str):
                value = _canonical_list(value)
            elif name in self.times and isinstance(value, str) and value:
                value = _canonical_time(value)
            elif name in self._numbers and isinstance(value, str):
                value = _number(value)
            out[name] = value
        return out


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _clock(value: time | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%H:%M") if not (value.second or value.microsecond) else value.isoformat()


def _canonical_time(value: str) -> str:
    try:
        return _clock(time.fromisoformat(value))
    except ValueError:
        return value  # left for validation to name


def _canonical_list(value: str) -> str:
    try:
        items = json.loads(value)
    except ValueError:
        return value
    if isinstance(items, list) and all(isinstance(i, str) for i in items):
        items = list(dict.fromkeys(i.strip() for i in items))
    return wire(items)


def _decoded(table: VolunteersTable, values: dict) -> dict:
    """Pushed values as the REST schemas take them: JSON-text lists back to lists."""
    out = dict(values)
    for name in table.lists & out.keys():
        if isinstance(out[name], str):
            try:
                out[name] = json.loads(out[name])
            except ValueError:
                raise InvalidInput.field(name, "Must be JSON text of a list of labels.", "json") from None
    return out


# REST field paths that are other columns on the wire.
_WIRE_FIELDS = {
    ("guardian_consent", "name"): "guardian_name",
    ("guardian_consent", "relation"): "guardian_relation",
    ("guardian_consent", "consented_on"): "guardian_consent_on",
    ("guardian_consent",): "guardian_consent_on",
}


def _wire_field(loc: tuple) -> str:
    for size in (2, 1):
        if tuple(loc[:size]) in _WIRE_FIELDS:
            return _WIRE_FIELDS[tuple(loc[:size])]
    return ".".join(str(p) for p in loc)


def _build(schema: type[BaseModel], data: dict) -> Any:
    """The REST body from pushed values; problems named by the wire's column names."""
    try:
        return schema(**data)
    except ValidationError as exc:
        raise InvalidInput(f"Not a valid {schema.__name__}.", errors=[
            {"field": _wire_field(e["loc"]), "message": e["msg"], "code": e["type"]} for e in exc.errors()]) from None


def _renamed(exc: InvalidInput) -> InvalidInput:
    for e in exc.errors or []:
        e["field"] = _wire_field(tuple(e["field"].split(".")))
    return exc


def _vault(ctx: SyncContext):
    return ctx.request.app.state.vault


def _asker(ctx: SyncContext) -> PushAsker:
    """An hours record's activity or session is checked with the projects service as the pushing
    device; one new in the same push is taken from the push itself (shared/contracts/lookup)."""
    if not hasattr(ctx, "volunteers_asker"):
        ctx.volunteers_asker = PushAsker(ctx.request.app.state.lookup, ctx,
                                         same_push={references.ACTIVITIES: "activities",
                                                    references.SESSIONS: "group_sessions"})
    return ctx.volunteers_asker


async def _station_in_scope(session, ctx: SyncContext, station_id: int | None) -> None:
    """A station outside the device's subtree (or unknown) is refused as out of scope."""
    try:
        await resolve_station(session, Station, ctx.principal, station_id)
    except InvalidInput:
        raise NotFound("No such station in the device's subtree.") from None


def _fixed(field: str, pushed: Any, stored: Any) -> None:
    if pushed is not None and pushed != stored:
        raise InvalidInput.field(field, "Set when the record was made; it cannot be changed.", "immutable")


# ---------------------------------------------------------------- volunteers

_GUARDIAN = {"guardian_name": "name", "guardian_relation": "relation", "guardian_consent_on": "consented_on"}
_VOLUNTEER_PROFILE = ("name", "gender", "skills", "available_times", "status", "disclosure_consent")


def _guardian(values: dict) -> dict | None:
    given = {key: values.get(column) for column, key in _GUARDIAN.items()}
    return given if any(v is not None for v in given.values()) else None


async def create_volunteer(session, ctx: SyncContext, row: dict) -> Volunteer:
    values = _decoded(VOLUNTEERS, VOLUNTEERS.pushed(row))
    await _station_in_scope(session, ctx, values.get("station_id"))
    data = {k: v for k, v in values.items() if k not in _GUARDIAN}
    if (guardian := _guardian(values)) is not None:
        data["guardian_consent"] = guardian
    body = _build(VolunteerCreate, {**data, "id": row["id"]})
    try:
        record, _ = await volunteers_service.create(session, _vault(ctx), _asker(ctx), ctx.principal, body)
    except DuplicateIdNumber as exc:
        # Named on the record, like any rule the pushed values break (a tablet cannot answer a 409);
        # the existing record's id only when the device may see it.
        existing = {"existing_id": exc.extra["existing_id"]} if exc.extra.get("existing_id") else {}
        raise InvalidInput(exc.detail, errors=[{**e, **existing} for e in exc.errors or []]) from None
    except InvalidInput as exc:
        raise _renamed(exc)
    return record


def _volunteer_changes(vault, record: Volunteer, row: dict) -> dict:
    """The profile fields a pushed volunteer row changes, compared as the service stores them;
    InvalidInput when it tries to change what is fixed at registration."""
    values = _decoded(VOLUNTEERS, VOLUNTEERS.pushed(row))
    served = VOLUNTEERS.serve(record)
    for field in ("id_type", "birth_on", "volunteer_number", "station_id"):
        _fixed(field, values.get(field), served[field])
    if values.get("id_number") is not None:
        try:
            given = normalise_document(record.id_type, values["id_number"])
        except ValueError:
            given = values["id_number"]
        _fixed("id_number", given, volunteers_service.id_number_of(vault, record))
    # Tablets send whole records: compare them as the service would store them, and change what differs.
    candidate = {k: values[k] for k in _VOLUNTEER_PROFILE if k in values}
    if values.get("phone") is not None:
        candidate["phone"] = values["phone"]
    if any(k in values for k in _GUARDIAN):
        candidate["guardian_consent"] = _guardian({**served, **{k: values[k] for k in _GUARDIAN if k in values}})
    parsed = _build(VolunteerUpdate, candidate).model_dump()
    current = {k: getattr(record, k) for k in _VOLUNTEER_PROFILE}
    current["phone"] = vault.cipher.decrypt(record.phone_enc, volunteers_service.context(record.id, "phone"))
    current["guardian_consent"] = ({"name": record.guardian_name, "relation": record.guardian_relation,
                                    "consented_on": record.guardian_consent_on} if record.guardian_name else None)
    return {k: parsed[k] for k in candidate if parsed[k] != current[k]}


async def update_volunteer(session, ctx: SyncContext, record: Volunteer, row: dict) -> Volunteer | None:
    if record.deleted_at is not None:
        return None  # removed before the tablet's last pull, whose tombstone it was served: deletion wins
    vault = _vault(ctx)
    changes = _volunteer_changes(vault, record, row)
    if not changes:
        return record
    try:
        return await volunteers_service.update(session, vault, _asker(ctx), ctx.principal, record, record.version,
                                               _build(VolunteerUpdate, changes))
    except InvalidInput as exc:
        raise _renamed(exc)


async def delete_volunteer(session, ctx: SyncContext, record: Volunteer) -> None:
    if await volunteers_repo.has_records(session, record.id):
        # The service keeps a volunteer with service records (their certificates state them).
        await volunteers_service.update(session, _vault(ctx), _asker(ctx), ctx.principal, record, record.version,
                                        VolunteerUpdate(status="left"))
        return
    await volunteers_service.delete(session, ctx.principal, record, record.version)


VOLUNTEERS = VolunteersTable(
    name="volunteers",
    model=Volunteer,
    columns=(
        SyncColumn("name", optional=False),
        SyncColumn("id_type"),
        SyncColumn("id_number", writeonly=True),
        SyncColumn("phone", writeonly=True),
        SyncColumn("gender"),
        SyncColumn("birth_on"),
        SyncColumn("skills"),
        SyncColumn("available_times"),
        SyncColumn("volunteer_number", indexed=True),
        SyncColumn("status"),
        SyncColumn("disclosure_consent", "boolean"),
        SyncColumn("guardian_name"),
        SyncColumn("guardian_relation"),
        SyncColumn("guardian_consent_on"),
        SyncColumn("registered_on", readonly=True),
        SyncColumn("certified_hours", "number", readonly=True),
        SyncColumn("station_id", "number", indexed=True),
        *TIMESTAMPS,
    ),
    create=create_volunteer,
    update=update_volunteer,
    delete=delete_volunteer,
    lists=frozenset({"skills", "available_times"}),
    defaulted=frozenset({"id_type", "birth_on", "skills", "available_times", "volunteer_number", "status",
                         "disclosure_consent", "station_id"}),
    changes=_volunteer_changes,
)


# ---------------------------------------------------------------- service hours

async def create_hours(session, ctx: SyncContext, row: dict) -> ServiceHours:
    values = HOURS.pushed(row)
    values.pop("correction_reason", None)
    # The volunteer, and the team when given, must be readable by the device; else the station.
    if not values.get("volunteer_id") or not isinstance(values["volunteer_id"], str):
        raise InvalidInput.field("volunteer_id", "Give the volunteer's id.", "missing")
    if await get_live(session, Volunteer, values["volunteer_id"], ctx.principal) is None:
        raise NotFound("No such volunteer in the device's subtree.")
    if values.get("team_id"):
        if await get_live(session, Team, values["team_id"], ctx.principal) is None:
            raise NotFound("No such team in the device's subtree.")
    else:
        await _station_in_scope(session, ctx, values.get("station_id"))
    body = _build(HoursCreate, {**values, "id": row["id"]})
    record, _ = await hours_service.create(session, _vault(ctx), _asker(ctx), ctx.principal, body, ctx.review())
    return record


async def create_many_hours(session, ctx: SyncContext, rows: list[dict]) -> None:
    """The push's new hours records in one batch, by the lean path (hours_service.create_many): each row read
    and checked as `create_hours` does (the volunteer, team and station then by the lean path, locked), then
    all written with one statement per step."""
    bodies, stations = [], set()  # the stations found in scope, each asked once
    for row in rows:
        try:
            values = HOURS.pushed(row)
            values.pop("correction_reason", None)
            if not values.get("volunteer_id") or not isinstance(values["volunteer_id"], str):
                raise InvalidInput.field("volunteer_id", "Give the volunteer's id.", "missing")
            if not values.get("team_id") and repr(values.get("station_id")) not in stations:
                await _station_in_scope(session, ctx, values.get("station_id"))
                stations.add(repr(values.get("station_id")))
            bodies.append(_build(HoursCreate, {**values, "id": row["id"]}))
        except (InvalidInput, NotFound) as exc:
            raise named_error(HOURS, row["id"], exc) from None
    await hours_service.create_many(session, _vault(ctx), _asker(ctx), ctx.principal, bodies, review=ctx.review,
                                    named=lambda i, exc: named_error(HOURS, rows[i]["id"], _unknown_parent(exc)))


def _unknown_parent(exc: Exception) -> Exception:
    """A volunteer or team the device cannot read is, in a push, out of its scope (as `create_hours` says)."""
    codes = [e.get("code") for e in exc.errors or []] if isinstance(exc, InvalidInput) else []
    if codes in (["unknown_volunteer"], ["unknown_team"]):
        return NotFound(f"No such {codes[0].removeprefix('unknown_')} in the device's subtree.")
    return exc


async def update_hours(session, ctx: SyncContext, record: ServiceHours, row: dict) -> ServiceHours | None:
    if record.deleted_at is not None:
        return None  # see update_volunteer
    values = HOURS.pushed(row)
    served = HOURS.serve(record)
    for field in ("volunteer_id", "team_id", "station_id"):
        _fixed(field, values.get(field), served[field])
    reason = values.get("correction_reason") or f"Changed on station tablet {ctx.principal.device_id}"
    candidate = {k: values[k] for k in hours_service.SERVICE_FIELDS if k in values}
    parsed = _build(CorrectionInput, {**candidate, "reason": reason})
    changes = {k: getattr(parsed, k) for k in candidate if getattr(parsed, k) != getattr(record, k)}
    if not changes:
        return record
    # The REST API's only edit of a record: a correction, which keeps the earlier version in its history.
    body = _build(CorrectionInput, {**changes, "reason": reason})
    return await hours_service.correct(session, _asker(ctx), ctx.principal, record, body, record.version,
                                      ctx.review())


async def delete_hours(session, ctx: SyncContext, record: ServiceHours) -> None:
    await hours_service.delete(session, ctx.principal, record, record.version)


HOURS = VolunteersTable(
    name="volunteer_hours",
    model=ServiceHours,
    columns=(
        SyncColumn("volunteer_id", optional=False, indexed=True),
        SyncColumn("team_id", indexed=True),
        SyncColumn("station_id", "number", indexed=True),
        SyncColumn("activity_kind"),
        SyncColumn("activity_ref"),
        SyncColumn("activity_title"),
        SyncColumn("served_on", optional=False),
        # A shift past midnight ends the next day (one record, one person-time); null: served_on.
        SyncColumn("ends_on", since=3),
        SyncColumn("start_time"),
        SyncColumn("end_time"),
        SyncColumn("hours", "number"),
        SyncColumn("content", optional=False),
        SyncColumn("status", readonly=True),
        SyncColumn("dispute_reason", readonly=True),
        # Why a pushed change corrects the record; kept in its history, never served.
        SyncColumn("correction_reason", writeonly=True),
        *TIMESTAMPS,
    ),
    create=create_hours,
    create_many=create_many_hours,
    update=update_hours,
    delete=delete_hours,
    times=frozenset({"start_time", "end_time"}),
    defaulted=frozenset({"station_id", "activity_kind", "hours", "ends_on"}),
)

# Parents first: a push applies its tables in the order they are given.
# Attachments last: read-only, made by the tablets' uploads (shared/attachments/tablet.py).
TABLES = [VOLUNTEERS, HOURS, attachment_sync_table("volunteer_attachments", Attachment)]
