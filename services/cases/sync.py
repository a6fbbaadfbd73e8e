"""The cases service's synced tables (ARCHITECTURE.md "Offline sync for station tablets").

These tables travel to station tablets: beneficiaries, cases, service_records, from schema
version 2 referrals (version 2 also added service_records.resources_yuan), and from version 5
visits. Every pushed
change goes through the same service functions as the REST API, so validation, the station
scope, the ID-number uniqueness rule and the counting rollups hold for tablet records too. A push's
new service records, by the thousand after a weekend offline, are created together by the lean path
the REST create uses too (record_service.create_service_records), one statement per step for all.

What a tablet never gets: ciphertexts, blind indexes and the RecordMixin internals. Sensitive
values travel one way: a tablet pushes `id_number`, `phone` and `emergency_contact` (write-only
columns) and pulls null in their place beside their masked forms (`*_masked`, read-only),
exactly as a list of the REST API masks them; a pull is a bulk read of a whole subtree, so it
reveals no more than a list. A write-only value counts only when the tablet changed it
(shared.sync.SyncTable.pushed); null never clears one: clearing one is a REST action.

Lifecycle states (case status, referral status) move through actions only, so they are
read-only here: a pushed case opens at intake exactly as POST /v1/cases opens it. From schema
version 5 a tablet asks a case to take a step by pushing `step` (with `step_on` and, for a
closure, `step_reason`: write-only), which runs the same action as POST /v1/cases/{id}/<step>: a
step that needs a supervisor's approval is submitted, and shows as the case's `pending_step`;
the decisions come down in the read-only `approvals` table. A step the case has taken already or
is waiting for is not asked again, so a retried push converges. Fields no
REST update changes (a record's station, a case's beneficiary and opening date, a record's
case) are refused (422) when a pushed update differs; a record's station is its case's.

Tablets do not send If-Match: an update applies the fields that really differ from the
record (as the REST update schema normalises them) at the record's current version; the
framework has checked for conflicts already, with the same comparison (`CasesTable.same`).

The masked columns need the service's keys (the Vault) while a pull streams, and the write-only
ones to be compared: the sync router passes them to `serve`, `pull_row` and `same` (`vault`) and
to the adapters (`SyncContext.vault`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import CaseNotFound, DuplicateIdNumber
from services.cases.models import Approval, Attachment, Beneficiary, Case, Referral, ServiceRecord, Station, Visit
from services.cases.repository import service_records as record_repo
from services.cases.repository import transfers as transfers_repo
from services.cases.schemas.beneficiaries import BeneficiaryCreate, BeneficiaryUpdate
from services.cases.schemas.cases import CaseCreate, CaseUpdate, CloseInput, TransitionInput
from services.cases.schemas.visits import VisitCreate, VisitUpdate
from services.cases.service import beneficiaries as beneficiary_service
from services.cases.service import cases as case_service
from services.cases.service import records as record_service
from services.cases.service import visits as visit_service
from shared.errors import AppError, Conflict, InvalidInput, NotFound
from shared.contracts.lookup.client import PushAsker
from shared.principals import Principal
from shared.records import Vault
from shared.db import raw_connection
from shared.repository import get_live
from shared.attachments.tablet import attachment_sync_table
from shared.sync import TIMESTAMPS, SyncColumn, SyncContext, SyncTable, named_error, wire


# ---------------------------------------------------------------- table description

def _col(name: str, type_: str = "string", **kw) -> SyncColumn:
    return SyncColumn(name, type_, **kw)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    """A value as stored, for comparison: models as JSON objects, decimals normalised."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _unchanged(record: Any, name: str, new: Any, vault: Vault | None = None) -> bool:
    current = getattr(record, name)
    return _plain(new) == (_plain(list(current)) if isinstance(current, list) else _plain(current))


@dataclass(frozen=True)
class CasesTable(SyncTable):
    """A SyncTable that turns a pushed row into the REST update it amounts to.

    `changes` is the one comparison of a pushed row with the stored record, used both for
    the conflict check (`same`) and for the update: the writable fields whose value, once the
    REST update schema has normalised it (trimmed strings, dates, decimals, JSON text decoded,
    a write-only value compared with the decrypted one), differs from the stored value.
    So a retried push writes nothing and is no conflict, and a change of a write-only column
    alone is still a change (the base `same` compares served columns only and would miss it).
    """

    update_schema: type[BaseModel] | None = None
    json_columns: frozenset[str] = frozenset()
    # Fields no REST update changes: a different value is refused, naming the field.
    immutable: frozenset[str] = frozenset()
    # Fields a create defaults when left null (the caller as worker, "low" risk, no populations):
    # a null pushed for them means "not given", so a repeated create keeps the defaults.
    kept_when_null: frozenset[str] = frozenset()
    # Served columns computed from the whole record and the vault (masked sensitive values), in one call.
    computed: Callable[[Any, Vault | None], dict] | None = None
    # Is the (schema-normalised) new value of a field what the record holds already? (record, field, value, vault)
    unchanged: Callable[[Any, str, Any, Vault | None], bool] = _unchanged
    # Write-only columns that ask for an action rather than set a field (a case's `step`): left out of
    # the update and of the conflict check, handled by the table's adapters.
    actions: frozenset[str] = frozenset()
    # Does a pushed row ask the record for an action it has not taken (record, row)? Then it is not "the same".
    asks: Callable[[Any, dict], bool] | None = None

    def serve(self, record: Any, vault: Vault | None = None) -> dict:
        extra = self.computed(record, vault) if self.computed else {}
        row = {"id": record.id}
        for c in self.columns:
            if c.writeonly:
                row[c.name] = None
            else:
                row[c.name] = wire(extra[c.name]) if c.name in extra else wire(getattr(record, c.source))
        return row

    def pull_row(self, values: Mapping[str, Any], vault: Vault | None = None) -> dict:
        return self.wire_row(values, self.computed(SimpleNamespace(**values), vault) if self.computed else None)

    def same(self, record: Any, row: dict, vault: Vault | None = None) -> bool:
        if self.asks is not None and self.asks(record, row):
            return False
        try:
            return not self.changes(record, row, vault)
        except (ValidationError, InvalidInput):
            return False  # not valid, so not what is stored: the update names the problem

    def decode(self, name: str, value: Any) -> Any:
        """A wire value as the REST schema takes it: JSON text back to lists and objects.
        Dates stay "YYYY-MM-DD" strings, which the schemas parse and check."""
        if name in self.json_columns and isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise InvalidInput.field(name, "Must be JSON text.", "json_invalid") from None
        if value == "" and name.endswith("_on"):
            return None  # an unset optional date
        return value

    def values(self, row: dict) -> dict:
        """The pushed writable fields, decoded (a write-only one only when given: SyncTable.pushed)."""
        out = {}
        for name, value in self.pushed(row).items():
            if name in self.actions:
                continue
            value = self.decode(name, value)
            if value is None and name in self.kept_when_null:
                continue
            out[name] = value
        return out

    def changes(self, record: Any, row: dict, vault: Vault | None = None) -> dict:
        """The decoded writable fields of `row` that would change `record` (see the class)."""
        served = self.serve(record, vault)
        candidates = {}
        for name, value in self.values(row).items():
            if name in served and name not in self.json_columns and served[name] == row[name]:
                continue  # the same on the wire: the common case, no need to parse
            if name in self.immutable:
                raise InvalidInput.field(name, "Cannot be changed once the record exists.", "immutable")
            candidates[name] = value
        if not candidates:
            return {}
        body = self.update_schema.model_validate(candidates)
        return {name: value for name, value in candidates.items()
                if not self.unchanged(record, name, getattr(body, name), vault)}


def _without_none(values: dict) -> dict:
    # A create leaves unset what the tablet left null, so the schema's defaults apply.
    return {k: v for k, v in values.items() if v is not None}


async def _station_in_scope(session: AsyncSession, principal: Principal, station_id: Any) -> None:
    """The station a pushed record names must be a live station of the device's subtree."""
    if station_id is None or station_id == principal.station_id:
        return
    if isinstance(station_id, bool) or not isinstance(station_id, int):
        raise InvalidInput.field("station_id", "Must be a number.")
    path = await session.scalar(select(Station.path).where(Station.id == station_id, Station.deleted_at.is_(None)))
    if path is None or not principal.in_scope(path):
        raise NotFound("No such station in the device's subtree.")


def _named(exc: AppError, table: str, record_id: str) -> AppError:
    """A service conflict (duplicate ID number, beneficiary with cases) naming the pushed record."""
    for e in exc.errors or []:
        e["field"] = f"changes.{table}.{record_id}.{e['field']}"
    exc.extra["records"] = [{"table": table, "id": record_id}]
    return exc


# ---------------------------------------------------------------- beneficiaries

def _masked(record: Any, vault: Vault) -> dict:
    read = beneficiary_service.to_read(vault, record, reveal=False)
    contact = read.emergency_contact.model_dump(mode="json") if read.emergency_contact else None
    return {"id_number_masked": read.id_number, "phone_masked": read.phone, "emergency_contact_masked": contact}


def _beneficiary_unchanged(record: Beneficiary, name: str, new: Any, vault: Vault) -> bool:
    if name in ("id_number", "phone", "emergency_contact"):  # write-only: compared with the decrypted value
        stored = getattr(beneficiary_service.to_read(vault, record, reveal=True), name)
        return _plain(new) == _plain(stored)
    if name == "birth_on" and new is None and record.id_number_enc:
        return True  # the service takes it from the ID number again
    return _unchanged(record, name, new)


async def _beneficiary_create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    values = _without_none(BENEFICIARIES.values(row))
    await _station_in_scope(session, ctx.principal, values.get("station_id"))
    body = BeneficiaryCreate(id=row["id"], **values)
    try:
        await beneficiary_service.create(session, ctx.vault, ctx.principal, body, ctx.review())
    except DuplicateIdNumber as exc:
        raise _named(exc, "beneficiaries", row["id"]) from None


async def _beneficiary_update(session: AsyncSession, ctx: SyncContext, record: Beneficiary, row: dict) -> None:
    if record.deleted_at is not None:
        return  # deleted on the server before the tablet's last pull: the deletion wins
    values = BENEFICIARIES.changes(record, row, ctx.vault)
    if not values:
        return
    try:
        await beneficiary_service.update(session, ctx.vault, ctx.principal, record, record.version,
                                         BeneficiaryUpdate.model_validate(values), ctx.review())
    except DuplicateIdNumber as exc:
        raise _named(exc, "beneficiaries", record.id) from None


async def _beneficiary_delete(session: AsyncSession, ctx: SyncContext, record: Beneficiary) -> None:
    try:
        await beneficiary_service.delete(session, ctx.principal, record, record.version)
    except Conflict as exc:  # still has live cases
        raise _named(exc, "beneficiaries", record.id) from None


BENEFICIARIES = CasesTable(
    name="beneficiaries", model=Beneficiary,
    columns=(
        _col("name"),
        _col("gender"),
        _col("birth_on"),
        _col("id_number", writeonly=True),
        _col("id_number_masked", readonly=True),
        _col("phone", writeonly=True),
        _col("phone_masked", readonly=True),
        _col("address"),
        _col("emergency_contact", writeonly=True),
        _col("emergency_contact_masked", readonly=True),
        _col("self_care"),
        _col("disability_type"),
        _col("disability_grade", "number"),
        _col("need_level"),
        _col("worker_id", indexed=True),
        _col("consents"),
        _col("populations"),
        _col("registered_on", readonly=True),
        _col("station_id", "number"),
        *TIMESTAMPS,
    ),
    create=_beneficiary_create, update=_beneficiary_update, delete=_beneficiary_delete,
    update_schema=BeneficiaryUpdate,
    json_columns=frozenset({"consents", "populations", "emergency_contact"}),
    immutable=frozenset({"station_id"}),
    kept_when_null=frozenset({"station_id", "consents", "populations"}),
    computed=_masked,
    unchanged=_beneficiary_unchanged,
    # What the projects service's attendee check needs of a person new in the same push.
    provides=lambda b: {"station_id": b.station_id, "populations": list(b.populations or []), "person_no": b.person_no},
)


# ---------------------------------------------------------------- cases

# The sync schema version that added steps pushed by tablets, the approvals they wait for, and visits.
APPROVALS_SINCE = 5

def _asker(ctx: SyncContext) -> PushAsker:
    """A case's project is checked with the projects service as the pushing device (shared/contracts/lookup)."""
    if not hasattr(ctx, "cases_asker"):
        ctx.cases_asker = PushAsker(ctx.request.app.state.lookup, ctx)
    return ctx.cases_asker


async def _case_create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    values = _without_none(CASES.values(row))
    await _station_in_scope(session, ctx.principal, values.get("station_id"))
    # Opened at intake, its "open" event and counts written, exactly as POST /v1/cases.
    case, _ = await case_service.create(session, ctx.vault, _asker(ctx), ctx.principal,
                                        CaseCreate(id=row["id"], **values))
    await _case_step(session, ctx, case, row)


async def _case_update(session: AsyncSession, ctx: SyncContext, record: Case, row: dict) -> None:
    if record.deleted_at is not None:
        return
    values = CASES.changes(record, row, ctx.vault)
    if values:
        await case_service.update(_asker(ctx), ctx.principal, record, record.version,
                                  CaseUpdate.model_validate(values))
    await _case_step(session, ctx, record, row)


def _step_asked(case: Case, row: dict) -> str | None:
    """The step a pushed row asks for, unless the case is waiting for it already or has taken it (a
    retried push); an unknown step is returned, to be refused."""
    step = CASES.pushed(row).get("step")
    if step is None or step not in case_service.TRANSITIONS:
        return step
    sources, target = case_service.TRANSITIONS[step]
    if case.pending_step == step or (case.status == target and case.status not in sources):
        return None
    return step


async def _case_step(session: AsyncSession, ctx: SyncContext, case: Case, row: dict) -> None:
    """The step a pushed row asks for (`step`), taken or submitted for approval as by the REST action."""
    step = _step_asked(case, row)
    if step is None:
        return
    if step not in case_service.TRANSITIONS:
        raise InvalidInput.field("step", f"Must be one of: {', '.join(case_service.TRANSITIONS)}.", "unknown_step")
    asked = CASES.pushed(row)
    fields = {"on": CASES.decode("step_on", asked.get("step_on"))}
    try:
        body = (CloseInput(**fields, reason=asked.get("step_reason")) if step == "close"
                else TransitionInput(**fields))
    except ValidationError as exc:
        raise InvalidInput.field("step_reason" if step == "close" else "step_on",
                                 "Give a valid date (step_on) and, for a closure, a reason (step_reason).",
                                 "invalid_step") from exc
    await case_service.transition(session, ctx.principal, case, step, body, None,
                                  ctx.request.app.state.settings.default_steps)


async def _case_delete(session: AsyncSession, ctx: SyncContext, record: Case) -> None:
    await case_service.delete(session, ctx.principal, record, record.version)
    # The delete tombstones the case's records with bulk UPDATEs, which expire those already
    # loaded by this push; reload them now, as later (synchronous) comparisons cannot.
    for loaded in list(session.identity_map.values()):
        if getattr(loaded, "case_id", None) == record.id and inspect(loaded).expired_attributes:
            await session.refresh(loaded)


CASES = CasesTable(
    name="cases", model=Case,
    columns=(
        _col("beneficiary_id", indexed=True),
        _col("title"),
        _col("presenting_problem"),
        _col("status", readonly=True),
        _col("risk_level"),
        _col("worker_id", indexed=True),
        _col("project_id"),
        _col("opened_on"),
        _col("closed_on", readonly=True),
        _col("close_reason", readonly=True),
        _col("populations", readonly=True),
        _col("station_id", "number"),
        _col("pending_step", readonly=True, since=APPROVALS_SINCE),
        _col("step", writeonly=True, since=APPROVALS_SINCE),
        _col("step_on", writeonly=True, since=APPROVALS_SINCE),
        _col("step_reason", writeonly=True, since=APPROVALS_SINCE),
        *TIMESTAMPS,
    ),
    create=_case_create, update=_case_update, delete=_case_delete,
    update_schema=CaseUpdate, actions=frozenset({"step", "step_on", "step_reason"}),
    asks=lambda case, row: _step_asked(case, row) is not None,
    immutable=frozenset({"beneficiary_id", "opened_on", "station_id"}),
    kept_when_null=frozenset({"station_id", "risk_level", "worker_id", "opened_on"}),
)


# ---------------------------------------------------------------- a case's records

def _case_record_adapters(path: str):
    kind = record_service.KIND_BY_PATH[path]

    def table() -> CasesTable:
        return SERVICE_RECORDS if kind.model is ServiceRecord else REFERRALS

    async def parent(session: AsyncSession, principal: Principal, case_id: Any) -> Case:
        # The record's station is its case's: the case must be live and readable by the device.
        case = await get_live(session, Case, _case_id(case_id), principal, for_update=True)
        if case is None:
            raise CaseNotFound()
        return case

    async def create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
        values = _without_none(table().values(row))
        case = await parent(session, ctx.principal, values.pop("case_id", None))
        body = kind.create.model_validate({"id": row["id"], **values})
        await record_service.create(session, ctx.vault, ctx.principal, kind, case, body, ctx.review())

    async def update(session: AsyncSession, ctx: SyncContext, record: Any, row: dict) -> None:
        if record.deleted_at is not None:
            return  # tombstoned (with its case, earlier in this push or before): the deletion wins
        values = table().changes(record, row, ctx.vault)
        if not values:
            return
        case = await parent(session, ctx.principal, record.case_id)
        await record_service.update(session, ctx.principal, kind, case, record, record.version,
                                    kind.update.model_validate(values), ctx.review())

    async def delete(session: AsyncSession, ctx: SyncContext, record: Any) -> None:
        if record.deleted_at is not None:
            return  # gone with its case earlier in this push: its counts were taken back then
        await record_service.delete(session, ctx.principal, kind, record, record.version)

    return create, update, delete


def _case_id(case_id: Any) -> str:
    """The case a pushed record names, as an id (whether it is live and the device's is asked next)."""
    if case_id is None or case_id == "":
        raise InvalidInput.field("case_id", "Required.", "missing")
    if not isinstance(case_id, str):
        raise InvalidInput.field("case_id", "Must be a string id.")
    return case_id


async def _service_records_create_many(session: AsyncSession, ctx: SyncContext, rows: list[dict]) -> None:
    """The push's new service records in one batch, by the lean path (record_service.create_service_records):
    each row read and checked as the one-by-one `create` does, then all written with one statement per step."""
    kind = record_service.SERVICE_RECORDS
    case_ids = []
    for row in rows:  # the case first, then the body, as `create` finds them
        try:
            case_ids.append(_case_id(_without_none(SERVICE_RECORDS.values(row)).get("case_id")))
        except InvalidInput as exc:
            raise named_error(SERVICE_RECORDS, row["id"], exc) from None
    new = []
    for row, case_id in zip(rows, case_ids, strict=True):
        values = _without_none(SERVICE_RECORDS.values(row))
        values.pop("case_id")
        try:
            new.append((case_id, kind.create.model_validate({"id": row["id"], **values})))
        except ValidationError as exc:
            raise named_error(SERVICE_RECORDS, row["id"], exc) from None
    # The cases in the device's subtree, and those a transfer took out of it since the tablet last
    # pulled: a record the worker made offline on one was given at the station the case left, and is
    # filed there (refusing it would refuse every later push of the tablet).
    conn = await raw_connection(session)
    cases = await record_repo.lock_cases(conn, ctx.principal, case_ids)
    if missing := [case_id for case_id in case_ids if case_id not in cases]:
        cases |= await record_repo.departed_cases(conn, ctx.principal, missing)
    await record_service.create_service_records(
        session, ctx.vault, ctx.principal, new, review=ctx.review, cases=cases,
        named=lambda i, exc: named_error(SERVICE_RECORDS, rows[i]["id"], exc))


_sr_create, _sr_update, _sr_delete = _case_record_adapters("service-records")
SERVICE_RECORDS = CasesTable(
    name="service_records", model=ServiceRecord,
    columns=(
        _col("case_id", indexed=True),
        _col("beneficiary_id", indexed=True, readonly=True),
        _col("served_on"),
        _col("mode"),
        _col("duration_minutes", "number"),
        _col("content"),
        _col("service_type"),
        _col("person_times", "number"),
        _col("worker_id", indexed=True),
        _col("resources_yuan", "number", since=2),
        _col("populations", readonly=True),
        _col("station_id", "number", readonly=True),
        *TIMESTAMPS,
    ),
    create=_sr_create, update=_sr_update, delete=_sr_delete, create_many=_service_records_create_many,
    update_schema=record_service.KIND_BY_PATH["service-records"].update,
    immutable=frozenset({"case_id"}),
    kept_when_null=frozenset({"person_times", "worker_id"}),
)

_ref_create, _ref_update, _ref_delete = _case_record_adapters("referrals")
REFERRALS = CasesTable(
    name="referrals", model=Referral, since=2,
    columns=(
        _col("case_id", indexed=True),
        _col("agency"),
        _col("reason"),
        _col("referred_on"),
        _col("status", readonly=True),
        _col("responded_on", readonly=True),
        _col("completed_on", readonly=True),
        _col("notes"),
        _col("station_id", "number", readonly=True),
        *TIMESTAMPS,
    ),
    create=_ref_create, update=_ref_update, delete=_ref_delete,
    update_schema=record_service.KIND_BY_PATH["referrals"].update,
    immutable=frozenset({"case_id"}),
)

# ---------------------------------------------------------------- approvals (read-only)

def _approvals_refused(record_id: str) -> InvalidInput:
    return InvalidInput.field("id", "Approvals are made by pushing a case's step and decided by a supervisor.",
                              "read_only")


async def _approval_create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    raise _approvals_refused(row["id"])


async def _approval_update(session: AsyncSession, ctx: SyncContext, record: Approval, row: dict) -> None:
    return None  # every column is read-only


async def _approval_delete(session: AsyncSession, ctx: SyncContext, record: Approval) -> None:
    raise _approvals_refused(record.id)


APPROVALS = SyncTable(
    name="approvals", model=Approval, since=APPROVALS_SINCE,
    columns=(
        _col("case_id", readonly=True, indexed=True),
        _col("step", readonly=True),
        _col("status", readonly=True),
        _col("occurred_on", readonly=True),
        _col("decided_by", readonly=True),
        _col("comments", readonly=True),
        _col("station_id", "number", readonly=True),
        *TIMESTAMPS,
    ),
    create=_approval_create, update=_approval_update, delete=_approval_delete,
)


# ---------------------------------------------------------------- visits

def _needs(record: Any, vault: Vault | None = None) -> dict:
    # Stored sealed as one comma-joined value; a tablet sees the list, as the REST API answers it.
    return {"needs": [n for n in (record.needs or "").split(",") if n]}


def _visit_unchanged(record: Visit, name: str, new: Any, vault: Vault | None = None) -> bool:
    if name == "needs":
        return list(new or []) == _needs(record)["needs"]
    return _unchanged(record, name, new)


async def _visited(session: AsyncSession, principal: Principal,
                   beneficiary_id: Any) -> tuple[Beneficiary, tuple[int, str] | None]:
    """The visited person, live, and where the visit is filed: at the person's station when they are in
    the device's subtree. A person transferred out of it since the tablet last pulled was still on its
    lists when the worker went (offline); the visit was given by this station, so it is kept and filed
    at the station the person left, as visits made before a transfer stay (docs/rosters.md). Refusing
    it would refuse every later push of the tablet."""
    if beneficiary_id is None or beneficiary_id == "":
        raise InvalidInput.field("beneficiary_id", "Required.", "missing")
    if not isinstance(beneficiary_id, str):
        raise InvalidInput.field("beneficiary_id", "Must be a string id.")
    beneficiary = await get_live(session, Beneficiary, beneficiary_id, principal, for_update=True)
    if beneficiary is not None:
        return beneficiary, None
    if (departed := await transfers_repo.departed(session, principal, beneficiary_id)) is not None:
        person, transfer = departed
        return person, (transfer.station_id, transfer.station_path)
    raise NotFound("No such beneficiary in the device's subtree.")


async def _visit_create(session: AsyncSession, ctx: SyncContext, row: dict) -> None:
    values = _without_none(VISITS.values(row))
    beneficiary, at = await _visited(session, ctx.principal, values.pop("beneficiary_id", None))
    body = VisitCreate.model_validate({"id": row["id"], **values})
    await visit_service.create(session, ctx.vault, ctx.principal, beneficiary, body, ctx.review(), at=at)


async def _visit_update(session: AsyncSession, ctx: SyncContext, record: Visit, row: dict) -> None:
    if record.deleted_at is not None:
        return  # deleted on the server before the tablet's last pull: the deletion wins
    values = VISITS.changes(record, row, ctx.vault)
    if values:
        await visit_service.update(session, ctx.principal, record, record.version, VisitUpdate.model_validate(values))


async def _visit_delete(session: AsyncSession, ctx: SyncContext, record: Visit) -> None:
    await visit_service.delete(session, ctx.principal, record, record.version)


# A village worker records visits offline; opening a case from one is a REST action (case_id read-only).
VISITS = CasesTable(
    name="visits", model=Visit, since=APPROVALS_SINCE,
    columns=(
        _col("beneficiary_id", indexed=True),
        _col("visited_on"),
        _col("mode"),
        _col("worker_id", indexed=True),
        _col("health"),
        _col("safety"),
        _col("living"),
        _col("needs"),
        _col("notes"),
        _col("follow_up", "boolean"),
        _col("case_id", readonly=True),
        _col("populations", readonly=True),
        _col("station_id", "number", readonly=True),
        *TIMESTAMPS,
    ),
    create=_visit_create, update=_visit_update, delete=_visit_delete,
    update_schema=VisitUpdate,
    json_columns=frozenset({"needs"}),
    immutable=frozenset({"beneficiary_id"}),
    kept_when_null=frozenset({"worker_id", "needs", "follow_up"}),
    computed=_needs,
    unchanged=_visit_unchanged,
)

# Parents before children.
# Read-only tables last: attachments, made by the tablets' uploads (shared/attachments/tablet.py),
# and approvals, made by pushed steps.
TABLES: list[SyncTable] = [BENEFICIARIES, CASES, SERVICE_RECORDS, REFERRALS, VISITS,
                           attachment_sync_table("case_attachments", Attachment), APPROVALS]

