"""Tables of the projects service, in the `projects` schema.

Every record table carries shared.models.RecordMixin (id, station, version, soft delete,
authorship) and, through its migration, the change_xid sync marker. Beneficiary ids are
the cases service's, unchecked by foreign key (ARCHITECTURE.md "Processes"). The notes of a
session or an activity are sealed (shared.crypto.Sealed): workers write what they saw of the
people there, children and their health included.
"""

from datetime import date, time
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, Text, Time, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.crypto import Sealed
from shared.attachments.model import attachment_model
from shared.contracts.activity.server import served_index
from shared.audit.listener import track
from shared.audit.model import audit_log_model
from shared.idempotency import idempotency_model
from shared.models import DIGEST, make_base
from shared.models import ServiceRecord as Record
from shared.distinct_sets import distinct_set_model
from shared.persons import person_day_model
from shared.rollup import daily_stat_model
from shared.stations import station_replica_model

Base = make_base("projects")
Station = station_replica_model(Base)


class Counted:
    """A session or an activity: its person-times are its named attendees and those counted without a name."""

    named_count: int
    anonymous_count: int

    @property
    def person_times(self) -> int:
        return self.named_count + self.anonymous_count


class Project(Record, Base):
    """A purchased-service contract (政府购买服务项目); its station is the one that holds it."""

    __tablename__ = "project"
    name: Mapped[str] = mapped_column(String(200))
    purchaser: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(200))
    covered_station_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    # [{source, amount_yuan}]: funding sources are an open list (civil_affairs, womens_federation...).
    budget: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    budget_total_yuan: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    # [{metric, target, conditions}]: the contract's output targets as data.
    targets: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    notes: Mapped[str | None] = mapped_column(Text)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_project_starts_on_id", "starts_on", "id"),)


class Group(Record, Base):
    """A group (小组) run for several sessions (MZ/T 095-2017 stages)."""

    __tablename__ = "group"
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(40))
    target_population: Mapped[str | None] = mapped_column(String(40))
    planned_sessions: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    members: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_group_starts_on_id", "starts_on", "id"),)


class GroupSession(Counted, Record, Base):
    """One meeting (节) of a group; person-times = named attendees + anonymous headcount."""

    __tablename__ = "group_session"
    attendance_column = "session_id"  # its attendance rows point at it by this column
    group_id: Mapped[str] = mapped_column(String(64), ForeignKey("group.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time | None] = mapped_column(Time)
    topic: Mapped[str | None] = mapped_column(String(200))
    anonymous_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Live named attendees, kept with the attendance rows in one transaction.
    named_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    notes: Mapped[str | None] = mapped_column(Sealed("projects.group_session.notes"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_group_session_group_id_held_on", "group_id", "held_on"),
                      served_index("group_session", "held_on", "created_by"))


class Activity(Counted, Record, Base):
    """A community activity (社区活动), counted per event (场次)."""

    __tablename__ = "activity"
    attendance_column = "activity_id"
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(40))
    place: Mapped[str | None] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time | None] = mapped_column(Time)
    ends_at: Mapped[time | None] = mapped_column(Time)
    anonymous_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    named_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    volunteer_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    resources_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # References (URLs or media ids): no binary storage here.
    photos: Mapped[list[str]] = mapped_column(ARRAY(String(500)), server_default=text("'{}'"))
    notes: Mapped[str | None] = mapped_column(Sealed("projects.activity.notes"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_activity_held_on_id", "held_on", "id"), served_index("activity", "held_on", "created_by"))


class Attendance(Record, Base):
    """A named attendee of a group session or an activity (exactly one of the two).

    The attendee's populations are copied at attendance time, so counts by population stay
    as reported even if the person's populations change later.
    """

    __tablename__ = "attendance"
    session_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("group_session.id"))
    activity_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("activity.id"))
    beneficiary_id: Mapped[str] = mapped_column(String(64), index=True)
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    # The attendee's person number (cases' beneficiary.person_no), given by the lookup when recorded:
    # what persons counts (shared/persons.py). Rows recorded before it: ops/person_numbers.py.
    person_no: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # Recording the same person twice for one occasion is idempotent: one live row.
        Index("uq_attendance_session_beneficiary", "session_id", "beneficiary_id", unique=True,
              postgresql_where=text("deleted_at IS NULL AND session_id IS NOT NULL")),
        Index("uq_attendance_activity_beneficiary", "activity_id", "beneficiary_id", unique=True,
              postgresql_where=text("deleted_at IS NULL AND activity_id IS NOT NULL")),
        # What ops/person_numbers.py looks for: rows recorded before attendance carried numbers.
        Index("ix_attendance_unnumbered", "beneficiary_id", postgresql_where=text("person_no IS NULL")),
    )


class Evaluation(Record, Base):
    """An evaluation (考核评估) of a project: scores per dimension, a grade."""

    __tablename__ = "evaluation"
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("project.id"), index=True)
    evaluated_on: Mapped[date] = mapped_column(Date)
    evaluator: Mapped[str] = mapped_column(String(200))
    scores: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    total_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    grade: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)


# Files on records (shared/attachments).
Attachment = attachment_model(Base)

DailyStat = daily_stat_model(Base)
PersonDay = person_day_model(Base)
# Persons, active stations and workers kept by ancestor and month, built by readers (shared.distinct_sets).
DistinctSet = distinct_set_model(Base)

# Every write of a record is logged in its transaction; reads of sensitive ones by their handlers.
AuditLog = audit_log_model(Base)
IdempotentAnswer = idempotency_model(Base)
track(AuditLog, Project, Group, GroupSession, Activity, Attendance, Evaluation, Attachment)


RECORD_TABLES = [m.__table__ for m in (Project, Group, GroupSession, Activity, Attendance, Evaluation, Attachment)]

# Tables with a station_path column, rewritten when a station moves.
PATH_TABLES: list = [*RECORD_TABLES, DailyStat.__table__, PersonDay.__table__]
ROW_SEALED: list = []  # no column here is sealed by hand
