"""A case's records (assessments, plans, service records, referrals, follow-ups): one set of
rules for all five, with hooks where a kind adds its own (counts, referral steps)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import CaseNotFound
from services.cases.models import (Assessment, AuditLog, Beneficiary, Case, FollowUp, Referral, ServicePlan,
                                   ServiceRecord)
from services.cases.repository import service_records as repo
from services.cases.repository.service_records import CaseRow
from services.cases.schemas import records as s
from services.cases.service.counting import Rollup
from shared import clock
from shared.audit import CREATE, log_writes_raw
from shared.db import raw_connection
from shared.errors import InvalidInput
from shared.models import new_id
from shared.records import IdInUse, TransitionNotAllowed, Vault, replay, save_new, tombstone, touch
from shared.repository import by_id
from shared.principals import Principal
from shared.review import Review
from shared.scope import live_row_in


@dataclass(frozen=True)
class RecordKind:
    name: str                     # singular, for messages: "service record"
    path: str                     # URL segment under /v1/cases/{case_id}/
    model: type
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    date_field: str               # the record's own date: list order and from/to filter
    status_field: str | None = None
    worker_field: str | None = None
    counted: bool = False         # service records move the person-times rollup
    defaults: dict[str, Any] = field(default_factory=dict)


ASSESSMENTS = RecordKind("assessment", "assessments", Assessment, s.AssessmentCreate, s.AssessmentUpdate,
                         s.AssessmentRead, "assessed_on")
PLANS = RecordKind("service plan", "plans", ServicePlan, s.PlanCreate, s.PlanUpdate, s.PlanRead, "planned_on",
                   status_field="status")
SERVICE_RECORDS = RecordKind("service record", "service-records", ServiceRecord, s.ServiceRecordCreate,
                             s.ServiceRecordUpdate, s.ServiceRecordRead, "served_on", worker_field="worker_id",
                             counted=True)
REFERRALS = RecordKind("referral", "referrals", Referral, s.ReferralCreate, s.ReferralUpdate, s.ReferralRead,
                       "referred_on", status_field="status", defaults={"status": "pending"})
FOLLOW_UPS = RecordKind("follow-up", "follow-ups", FollowUp, s.FollowUpCreate, s.FollowUpUpdate, s.FollowUpRead,
                        "due_on")
KINDS = [ASSESSMENTS, PLANS, SERVICE_RECORDS, REFERRALS, FOLLOW_UPS]


def _fields(body: BaseModel, fields: dict) -> dict:
    # Nested models (plan goals) are stored as JSON.
    return {k: ([g.model_dump(mode="json") for g in getattr(body, k)] if k == "goals" else v)
            for k, v in fields.items()}


async def create(session: AsyncSession, vault: Vault, principal: Principal, kind: RecordKind, case: Case,
                 body: BaseModel, review: Review | None = None) -> tuple[Any, bool]:
    """`review`: how the soft rules are met (refused by default; a tablet's push flags them).
    Service records are created by the lean path below (REST and sync); this ORM path is every other
    kind's, and the reference the lean path is tested against (tests/cases/test_lean_writes.py)."""
    review = review or Review()
    digest = vault.digest(kind.path, body, case.id)
    if (existing := await replay(session, kind.model, body.id, digest, principal)) is not None:
        return existing, False
    record = kind.model(**_new_values(kind, case, principal, body, digest, review))
    review.apply(record)
    if kind.counted:
        beneficiary = await by_id(session, Beneficiary, case.beneficiary_id)
        _counted_values(_Setter(record), case, principal,
                        list(beneficiary.populations) if beneficiary else None)
    await save_new(session, record)
    if kind.counted:
        rollup = Rollup()
        rollup.service_record(record, +1)
        await rollup.write(session)
    return record, True


def _new_values(kind: RecordKind, case, principal: Principal, body: BaseModel, digest: str, review: Review) -> dict:
    """The columns of a record made from a create body, and the soft rules it is checked by: the ORM
    path's and the lean path's one rule (`case`: an ORM Case or a repository CaseRow)."""
    values = _fields(body, body.model_dump(exclude={"id"}))
    if values.get(kind.date_field, date.min) is None:
        # A record's own date left out is the platform's today (HAOLIN_TIMEZONE), as a case's opening is.
        values[kind.date_field] = clock.today()
    _check_dates(kind, case, values, review)
    return {"id": body.id or new_id(), "case_id": case.id, "station_id": case.station_id,
            "station_path": case.station_path, "create_digest": digest, "created_by": principal.user_id,
            "updated_by": principal.user_id, "version": 1, **kind.defaults, **values}


def _counted_values(values, case, principal: Principal, beneficiary_populations: list[str] | None) -> None:
    """What a counted record (a service record) takes from its case and person: the person, the
    worker (the caller when not given), and the person's populations at the time (the case's when
    the person is gone), so that its counts stay as reported."""
    values["beneficiary_id"] = case.beneficiary_id
    values["worker_id"] = values.get("worker_id") or principal.user_id
    values["populations"] = list(beneficiary_populations if beneficiary_populations is not None
                                 else case.populations)


class _Setter:
    """An ORM record seen as the mapping `_counted_values` fills."""

    def __init__(self, record) -> None:
        self._record = record

    def get(self, name: str, default=None):
        return getattr(self._record, name, default)

    def __setitem__(self, name: str, value) -> None:
        setattr(self._record, name, value)


class _Made(SimpleNamespace):
    """A record the lean path makes, as the counting rules (Rollup) read it."""


async def create_service_records(session: AsyncSession, vault: Vault, principal: Principal,
                                 new: list[tuple[str, BaseModel]], *, review: Callable[[], Review] = Review,
                                 cases: dict[str, CaseRow] | None = None,
                                 named: Callable[[int, Exception], Exception] = lambda i, exc: exc,
                                 answer: bool = False) -> list[tuple[str, bool, dict | None]]:
    """The lean path of `create` for service records, one or many (a tablet's push) at once, with the
    same checks and effects: the case live in the caller's subtree (locked), idempotent client ids,
    the soft date rule, the sealed content, the audit row, and the rollups (daily_stat, and through
    its trigger ancestor_stat; person_day), summed over all the records and written once.

    `new`: (case id, validated create body) pairs. `cases`: those locked already (the route's
    dependency). `named(i, exc)`: the error of the i-th record as the caller reports it. Answers
    (id, created, the record as read when `answer`) per pair; a retried create is (id, False, ...)."""
    kind = SERVICE_RECORDS
    conn = await raw_connection(session)
    if cases is None:
        cases = await repo.lock_cases(conn, principal, [case_id for case_id, _ in new])
    client_ids = [body.id for _, body in new if body.id]
    existing = await repo.claim_ids(conn, client_ids) if client_ids else {}
    made: dict[str, str] = {}  # id -> digest, of the records made here
    rollup, numbers, rows, answers = Rollup(), {}, [], []
    for i, (case_id, body) in enumerate(new):
        case = cases.get(case_id)
        if case is None:
            raise named(i, CaseNotFound())
        digest = vault.digest(kind.path, body, case_id)
        if body.id is not None and (body.id in existing or body.id in made):
            # shared.records.replay's rule: the same id and body is the record made already.
            found = existing.get(body.id)
            same = (made[body.id] == digest if found is None
                    else live_row_in(_Made(**found), principal) and found["create_digest"] == digest)
            if not same:
                raise named(i, IdInUse())
            answers.append((body.id, False, None))
            continue
        rule = review()
        values = _new_values(kind, case, principal, body, digest, rule)
        values["review"] = rule.new_flags()
        _counted_values(values, case, principal, case.beneficiary_populations if case.has_beneficiary else None)
        made[values["id"]] = digest
        rollup.service_record(_Made(**values), +1)
        numbers[case.beneficiary_id] = case.person_no
        rows.append(values)
        answers.append((values["id"], True, None))
    if answer and len(new) == 1:
        record_id, created, _ = answers[0]
        read = (await repo.insert_one(conn, repo.sealed(rows[0])) if created
                else await repo.read_one(conn, record_id))
        answers[0] = (record_id, created, read)
    elif rows:
        await repo.insert_many(conn, [repo.sealed(values) for values in rows])
    if rows:
        await log_writes_raw(session, conn, AuditLog, CREATE, kind.model.__tablename__,
                             [(values["id"], values["station_path"]) for values in rows])
        await rollup.write_raw(conn, numbers)
    return answers


def _check_dates(kind: RecordKind, case: Case, values: dict, review: Review) -> None:
    """A soft rule: a record dated before its case opened is most likely a typo of the date."""
    if kind.model is FollowUp or kind.date_field not in values:
        return
    on = values[kind.date_field]
    review.rule(on is not None and on < case.opened_on, kind.date_field, "This date is before the case was opened.",
                "before_opened")


async def update(session: AsyncSession, principal: Principal, kind: RecordKind, case: Case, record,
                 expected_version: int, body: BaseModel, review: Review | None = None):
    review = review or Review()
    fields = _fields(body, body.changes())
    touch(record, principal, expected_version)
    _check_dates(kind, case, fields, review)
    review.apply(record)
    rollup = Rollup()
    if kind.counted:
        rollup.service_record(record, -1)
    for key, value in fields.items():
        setattr(record, key, value)
    if kind.counted:
        rollup.service_record(record, +1)
        await rollup.write(session)
    return record


async def delete(session: AsyncSession, principal: Principal, kind: RecordKind, record, expected_version: int) -> None:
    tombstone(record, principal, expected_version)
    if kind.counted:
        rollup = Rollup()
        rollup.service_record(record, -1)
        await rollup.write(session)


# Referral steps: action -> (from statuses, to status, the date column it sets)
REFERRAL_STEPS: dict[str, tuple[frozenset[str], str, str]] = {
    "accept": (frozenset({"pending"}), "accepted", "responded_on"),
    "reject": (frozenset({"pending"}), "rejected", "responded_on"),
    "complete": (frozenset({"accepted"}), "completed", "completed_on"),
}


def referral_step(principal: Principal, referral: Referral, action: str, on: date | None, note: str | None,
                  expected_version: int | None) -> Referral:
    sources, target, date_column = REFERRAL_STEPS[action]
    if referral.status not in sources:
        allowed = [a for a, (src, _, _) in REFERRAL_STEPS.items() if referral.status in src]
        raise TransitionNotAllowed(action, referral.status, allowed)
    on = on or clock.today()
    if on < referral.referred_on:
        raise InvalidInput.field("on", "This date is before the referral was made.", "before_referred")
    touch(referral, principal, expected_version)
    referral.status = target
    setattr(referral, date_column, on)
    if note:
        referral.notes = f"{referral.notes}\n{note}" if referral.notes else note
    return referral


KIND_BY_PATH: dict[str, RecordKind] = {k.path: k for k in KINDS}
