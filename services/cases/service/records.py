"""A case's records (assessments, plans, service records, referrals, follow-ups): one set of
rules for all five, with hooks where a kind adds its own (counts, referral steps)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Assessment, Beneficiary, Case, FollowUp, Referral, ServicePlan, ServiceRecord
from services.cases.schemas import records as s
from services.cases.service.counting import Rollup
from shared import clock
from shared.errors import InvalidInput
from shared.models import new_id
from shared.records import TransitionNotAllowed, Vault, replay, save_new, tombstone, touch
from shared.repository import by_id
from shared.principals import Principal
from shared.review import Review


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
    """`review`: how the soft rules are met (refused by default; a tablet's push flags them)."""
    review = review or Review()
    digest = vault.digest(kind.path, body, case.id)
    if (existing := await replay(session, kind.model, body.id, digest, principal)) is not None:
        return existing, False
    values = _fields(body, body.model_dump(exclude={"id"}))
    if values.get(kind.date_field, date.min) is None:
        # A record's own date left out is the platform's today (HAOLIN_TIMEZONE), as a case's opening is.
        values[kind.date_field] = clock.today()
    _check_dates(kind, case, values, review)
    record = kind.model(id=body.id or new_id(), case_id=case.id, station_id=case.station_id,
                        station_path=case.station_path, create_digest=digest, created_by=principal.user_id,
                        updated_by=principal.user_id, version=1, **kind.defaults, **values)
    review.apply(record)
    if kind.counted:
        beneficiary = await by_id(session, Beneficiary, case.beneficiary_id)
        record.beneficiary_id = case.beneficiary_id
        record.worker_id = record.worker_id or principal.user_id
        record.populations = list(beneficiary.populations) if beneficiary else list(case.populations)
    await save_new(session, record)
    if kind.counted:
        rollup = Rollup()
        rollup.service_record(record, +1)
        await rollup.write(session)
    return record, True


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
