"""Tables of the cases service, in the `cases` schema.

Every record table carries shared.models.RecordMixin (id, station, version, soft delete,
authorship) and, through its migration, the change_xid sync marker. Sensitive values
(ID number, phone) are stored only encrypted, next to keyed hashes used to find them; health,
disability, address and every free-text note of a case are sealed columns (shared.crypto.Sealed):
anything about a child is in one of them, whatever the person's age.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
                        func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.cases.identity import INITIALS_MAX, NAME_MAX, PINYIN_MAX
from shared.attachments.model import attachment_model
from shared.contracts.activity.server import served_index
from shared.crypto import RowSealed, Sealed
from shared.departures import departure_model
from shared.audit.listener import track
from shared.audit.model import audit_log_model
from shared.idempotency import idempotency_model
from shared.models import DIGEST, PathType, make_base
from shared.models import ServiceRecord as Record
from shared.distinct_sets import distinct_set_model
from shared.persons import person_day_model
from shared.review import Reviewed, review_index
from shared.rollup import daily_stat_model
from shared.stations import station_replica_model

Base = make_base("cases")
Station = station_replica_model(Base)


class Population(Base):
    """Operator-extensible population codes (DOMAIN.md "People served")."""

    __tablename__ = "population"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("1000"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Beneficiary(Record, Reviewed, Base):
    __tablename__ = "beneficiary"
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # Lower-case pinyin initials ("zsf") and full pinyin ("zhangsanfeng"), computed at write time for search.
    name_initials: Mapped[str] = mapped_column(String(INITIALS_MAX, collation="C"))
    name_pinyin: Mapped[str] = mapped_column(String(PINYIN_MAX, collation="C"))
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_on: Mapped[date | None] = mapped_column(Date)
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    id_number_bidx: Mapped[str | None] = mapped_column(String(64))
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_tail_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(Sealed("cases.beneficiary.address"))
    emergency_contact_enc: Mapped[str | None] = mapped_column(Text)
    self_care: Mapped[str | None] = mapped_column(Sealed("cases.beneficiary.self_care"))
    disability_type: Mapped[str | None] = mapped_column(Sealed("cases.beneficiary.disability_type"))
    disability_grade: Mapped[int | None] = mapped_column(Sealed("cases.beneficiary.disability_grade", int))
    need_level: Mapped[str | None] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    consents: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    registered_on: Mapped[date] = mapped_column(Date)
    # How the person came to be registered: "direct" by a worker, "roster" by a civil-affairs roster import.
    source: Mapped[str] = mapped_column(String(16), server_default=text("'direct'"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)
    # A dense number given once by the database, carried wherever the person is counted (shared/persons.py):
    # distinct persons are bitmaps of these, so they are small and begin at 1.
    person_no: Mapped[int] = mapped_column(Integer, server_default=text("nextval('cases.person_no_seq')"))

    __table_args__ = (
        # Uniqueness scope of an ID number: live beneficiaries of one province (the first
        # path segment). Stations of one province share clients across county lines, while
        # provinces run separate registries; an expression keeps it right after station moves.
        Index("uq_beneficiary_id_number_province", "id_number_bidx", text("split_part(station_path, '/', 2)"),
              unique=True, postgresql_where=text("deleted_at IS NULL AND id_number_bidx IS NOT NULL")),
        Index("ix_beneficiary_populations", "populations", postgresql_using="gin"),
        Index("ix_beneficiary_created_at_id", "created_at", "id"),
        Index("uq_beneficiary_person_no", "person_no", unique=True),
        review_index("beneficiary"),
    )


class Case(Record, Base):
    __tablename__ = "case"
    beneficiary_id: Mapped[str] = mapped_column(String(64), ForeignKey("beneficiary.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    presenting_problem: Mapped[str | None] = mapped_column(Sealed("cases.case.presenting_problem"))
    status: Mapped[str] = mapped_column(String(16))
    risk_level: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    # The beneficiary's populations when the case opened: every case count (new, closed,
    # open stock) uses this one snapshot, so the stock nets to zero per population.
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)
    # The step submitted for a supervisor's approval (service/approvals.py); none other may be taken meanwhile.
    pending_step: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_case_opened_on_id", "opened_on", "id"),
        Index("ix_case_status", "status"),
        Index("ix_case_populations", "populations", postgresql_using="gin"),
        # Partial: most cases belong to no project, and deleted ones never count (cases_0003).
        Index("ix_case_project_id", "project_id",
              postgresql_where=text("project_id IS NOT NULL AND deleted_at IS NULL")),
    )


class CaseEvent(Record, Base):
    """One lifecycle transition: the case's history and the source of its counts."""

    __tablename__ = "case_event"
    case_id: Mapped[str] = mapped_column(String(64), ForeignKey("case.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Sealed("cases.case_event.note"))


class CaseChildMixin(Record):
    case_id: Mapped[str] = mapped_column(String(64), ForeignKey("case.id"), index=True)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)


class Assessment(CaseChildMixin, Base):
    __tablename__ = "assessment"
    assessed_on: Mapped[date] = mapped_column(Date)
    areas: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    needs: Mapped[str | None] = mapped_column(Sealed("cases.assessment.needs"))
    risk_level: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Sealed("cases.assessment.notes"))


class ServicePlan(CaseChildMixin, Base):
    __tablename__ = "service_plan"
    planned_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    goals: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    review_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Sealed("cases.service_plan.notes"))


class ServiceRecord(CaseChildMixin, Reviewed, Base):
    __tablename__ = "service_record"
    beneficiary_id: Mapped[str] = mapped_column(String(64), index=True)
    served_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Sealed("cases.service_record.content"))
    service_type: Mapped[str] = mapped_column(String(32))
    resources_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    person_times: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    # Populations of the beneficiary when the service was given: counts stay as reported
    # even if the person's populations change later.
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))

    __table_args__ = (Index("ix_service_record_case_id_served_on", "case_id", "served_on"),
                      review_index("service_record"), served_index("service_record", "served_on", "worker_id"))


class Referral(CaseChildMixin, Reviewed, Base):
    __tablename__ = "referral"
    agency: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Sealed("cases.referral.reason"))
    referred_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    responded_on: Mapped[date | None] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Sealed("cases.referral.notes"))

    __table_args__ = (review_index("referral"),)


class FollowUp(CaseChildMixin, Base):
    __tablename__ = "follow_up"
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Sealed("cases.follow_up.notes"))


class ApprovalRule(Record, Base):
    """Which casework steps need a supervisor's approval at a station and below it, until a station
    further down sets its own (service/approvals.py `effective_rule`)."""

    __tablename__ = "approval_rule"
    steps: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default=text("'{}'"))
    # Every step of a case at high or critical risk needs approval, whatever `steps` says.
    high_risk: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (Index("uq_approval_rule_station", "station_id", unique=True,
                            postgresql_where=text("deleted_at IS NULL")),)


class Approval(Record, Base):
    """One step submitted for approval and the decision on it: the submitter and the time are the
    row's created_by and created_at, the decision's are decided_by and decided_at."""

    __tablename__ = "approval"
    case_id: Mapped[str] = mapped_column(String(64), ForeignKey("case.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # The step as submitted, applied as it was when approved.
    occurred_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Sealed("cases.approval.note"))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comments: Mapped[str | None] = mapped_column(Sealed("cases.approval.comments"))

    __table_args__ = (Index("ix_approval_status_created_at_id", "status", "created_at", "id"),)


class SupervisorAssignment(Record, Base):
    """A supervisor assigned to a station (`station_id`, `station_path`): they see and decide the
    approvals of its subtree, wherever their own account is placed."""

    __tablename__ = "supervisor_assignment"
    supervisor_id: Mapped[str] = mapped_column(String(64), index=True)

    __table_args__ = (Index("uq_supervisor_assignment", "supervisor_id", "station_id", unique=True,
                            postgresql_where=text("deleted_at IS NULL")),)


class SupervisionRecord(Record, Base):
    """A supervision session (督导记录) with workers of the station it is filed at."""

    __tablename__ = "supervision_record"
    held_on: Mapped[date] = mapped_column(Date)
    supervisor_id: Mapped[str] = mapped_column(String(64), index=True)
    worker_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    mode: Mapped[str] = mapped_column(String(16))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    case_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    notes: Mapped[str | None] = mapped_column(Sealed("cases.supervision_record.notes"))

    __table_args__ = (Index("ix_supervision_record_held_on_id", "held_on", "id"),)


class Visit(Record, Base):
    """A light visit (探访) of a person, with no case: counted as person_times.visit. The person's
    situation (health, safety, living conditions, needs) is sensitive, so sealed like a case's notes."""

    __tablename__ = "visit"
    beneficiary_id: Mapped[str] = mapped_column(String(64), ForeignKey("beneficiary.id"))
    visited_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    health: Mapped[str | None] = mapped_column(Sealed("cases.visit.health"))
    safety: Mapped[str | None] = mapped_column(Sealed("cases.visit.safety"))
    living: Mapped[str | None] = mapped_column(Sealed("cases.visit.living"))
    # Need codes joined by commas, sealed as one value.
    needs: Mapped[str | None] = mapped_column(Sealed("cases.visit.needs"))
    notes: Mapped[str | None] = mapped_column(Sealed("cases.visit.notes"))
    follow_up: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    case_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("case.id"))
    # The person's populations when visited: counts stay as reported (as a service record's).
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_visit_beneficiary_id_visited_on", "beneficiary_id", "visited_on"),)


class RosterImport(Record, Base):
    """One civil-affairs roster file imported for a station's subtree (the record's station), and
    what it changed: the rosters' history."""

    __tablename__ = "roster_import"
    listed_on: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str | None] = mapped_column(String(200))
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    rows: Mapped[int] = mapped_column(Integer)
    registered: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    left: Mapped[int] = mapped_column(Integer)


class RosterMember(Record, Base):
    """A person on a civil-affairs roster of one population (特困, 低保, 独居老人...), at the person's
    station. A person no longer listed is kept, with the date they left, never deleted by an import."""

    __tablename__ = "roster_member"
    beneficiary_id: Mapped[str] = mapped_column(String(64), ForeignKey("beneficiary.id"), index=True)
    population: Mapped[str] = mapped_column(String(40))
    village: Mapped[str | None] = mapped_column(String(100))
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    import_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("uq_roster_member_beneficiary_population", "beneficiary_id", "population", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )


class VisitRule(Base):
    """How often a person on a roster of one population is due a visit, and which modes count.
    A rule without a station is the platform's default (seeded with its source, docs/rosters.md);
    one set at a station holds for its whole subtree, and a station below may set its own."""

    __tablename__ = "visit_rule"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    station_path: Mapped[str | None] = mapped_column(PathType)
    population: Mapped[str] = mapped_column(String(40))
    every_days: Mapped[int] = mapped_column(Integer)
    modes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    source: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("uq_visit_rule_station_population", text("coalesce(station_path, '')"), "population", unique=True),
    )


class Transfer(Record, Base):
    """A person moving to another station (service/transfers.py), filed at the station they leave.
    Within the actor's subtree it is done at once; otherwise it is a request that the receiving station
    accepts or declines. The receiving station is named by id: its path is read from the replica."""

    __tablename__ = "transfer"
    beneficiary_id: Mapped[str] = mapped_column(String(64), ForeignKey("beneficiary.id"), index=True)
    to_station_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Sealed("cases.transfer.note"))
    direct: Mapped[bool] = mapped_column(Boolean)
    # The day the move took effect (cases.open moves that day); null while pending or when declined.
    transferred_on: Mapped[date | None] = mapped_column(Date)
    # The cases that moved with the person.
    case_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("uq_transfer_pending_beneficiary", "beneficiary_id", unique=True,
                            postgresql_where=text("status = 'pending' AND deleted_at IS NULL")),)


# Files on beneficiaries and cases (shared/attachments).
Attachment = attachment_model(Base)

DailyStat = daily_stat_model(Base)
SyncDeparture = departure_model(Base)
PersonDay = person_day_model(Base)
# Persons, active stations and workers kept by ancestor and month, built by readers (shared.distinct_sets).
DistinctSet = distinct_set_model(Base)

# Every write of a record is logged in its transaction; reads of sensitive ones by their handlers.
AuditLog = audit_log_model(Base)
IdempotentAnswer = idempotency_model(Base)
track(AuditLog, Beneficiary, Case, CaseEvent, Assessment, ServicePlan, ServiceRecord, Referral, FollowUp, Visit,
      RosterImport, RosterMember, Attachment, ApprovalRule, Approval, SupervisorAssignment, SupervisionRecord, Transfer)


RECORD_TABLES = [m.__table__ for m in (Beneficiary, Case, CaseEvent, Assessment, ServicePlan, ServiceRecord,
                                        Referral, FollowUp, Visit, RosterImport, RosterMember, Attachment, Approval,
                                        SupervisionRecord, Transfer)]

# Tables with a station_path column, rewritten when a station moves.
# Rules and assignments are a station's settings, not records it holds: they do not keep it from being deleted.
PATH_TABLES: list = [*RECORD_TABLES, ApprovalRule.__table__, SupervisorAssignment.__table__, DailyStat.__table__,
                     PersonDay.__table__, VisitRule.__table__, SyncDeparture.__table__]

# Sealed by the service itself, bound to their row (service/beneficiaries.py `_context`).
ROW_SEALED = [RowSealed(Beneficiary.__table__, f"{field}_enc", f"cases.beneficiary.{field}")
              for field in ("id_number", "phone", "emergency_contact")]
