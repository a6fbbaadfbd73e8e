"""Tables of the volunteers service, in the `volunteers` schema.

Record tables carry shared.models.RecordMixin (id, station, version, soft delete,
authorship) and, through the migration, the change_xid sync marker. ID numbers and
phones are stored only encrypted, next to a keyed hash that finds duplicates.
"""

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, ForeignKey, Identity, Index, Integer, Numeric, String,
                        Text, Time, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.attachments.model import attachment_model
from shared.audit.listener import track
from shared.audit.model import audit_log_model
from shared.idempotency import idempotency_model
from shared.crypto import RowSealed
from shared.distinct_sets import distinct_set_model
from shared.models import DIGEST, PathType, make_base
from shared.models import ServiceRecord as Record
from shared.review import Reviewed, review_index
from shared.rollup import daily_stat_model
from shared.stations import station_replica_model

Base = make_base("volunteers")
Station = station_replica_model(Base)

HOURS = Numeric(7, 2)


class Volunteer(Record, Base):
    __tablename__ = "volunteer"
    name: Mapped[str] = mapped_column(String(100))
    id_type: Mapped[str] = mapped_column(String(24))
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_bidx: Mapped[str] = mapped_column(String(64))
    phone_enc: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_on: Mapped[date] = mapped_column(Date)
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    available_times: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    volunteer_number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    disclosure_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    guardian_name: Mapped[str | None] = mapped_column(String(100))
    guardian_relation: Mapped[str | None] = mapped_column(String(50))
    guardian_consent_on: Mapped[date | None] = mapped_column(Date)
    # The gateway user who is this volunteer (role volunteer): self-service reads go by it.
    user_id: Mapped[str | None] = mapped_column(String(64))
    registered_on: Mapped[date] = mapped_column(Date)
    # Sum of confirmed and corrected hours, kept in the transaction that changes them:
    # the star level is read from it without summing records on every read.
    certified_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default=text("0"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)
    # A dense number from 1, assigned once and never reused: the member of the kept sets of active
    # volunteers (shared.distinct_sets), which are bitmaps of small integers; ids are strings.
    member_no: Mapped[int] = mapped_column(Integer,
                                           server_default=text("nextval('volunteers.volunteer_member_no_seq')"))

    __table_args__ = (
        # Volunteers are unique by ID number across the whole platform (DOMAIN.md), among live records.
        Index("uq_volunteer_id_number", "id_number_bidx", unique=True, postgresql_where=text("deleted_at IS NULL")),
        Index("uq_volunteer_user_id", "user_id", unique=True,
              postgresql_where=text("deleted_at IS NULL AND user_id IS NOT NULL")),
        Index("ix_volunteer_created_at_id", "created_at", "id"),
        Index("uq_volunteer_member_no", "member_no", unique=True),
    )


class Team(Record, Base):
    __tablename__ = "team"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    leader_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("volunteer.id"))
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (Index("ix_team_created_at_id", "created_at", "id"),)


class TeamMember(Base):
    """A volunteer's membership of a team; a volunteer may be in several teams."""

    __tablename__ = "team_member"
    team_id: Mapped[str] = mapped_column(String(64), ForeignKey("team.id"), primary_key=True)
    volunteer_id: Mapped[str] = mapped_column(String(64), ForeignKey("volunteer.id"), primary_key=True, index=True)
    joined_on: Mapped[date] = mapped_column(Date)
    added_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ServiceHours(Record, Reviewed, Base):
    """One volunteer's shift, recorded by the organising station (or its team): on `served_on`, or
    from then past midnight to `ends_on`, the next day (service/shifts.py)."""

    __tablename__ = "service_hours"
    volunteer_id: Mapped[str] = mapped_column(String(64), ForeignKey("volunteer.id"), index=True)
    team_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("team.id"))
    activity_kind: Mapped[str] = mapped_column(String(24))
    activity_ref: Mapped[str | None] = mapped_column(String(64))
    activity_title: Mapped[str | None] = mapped_column(String(200))
    served_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)

    __table_args__ = (
        Index("ix_service_hours_volunteer_id_served_on", "volunteer_id", "served_on"),
        Index("ix_service_hours_served_on_id", "served_on", "id"),
        review_index("service_hours"),
    )


class ServiceHoursVersion(Base):
    """Every state a service-hours record has been in: a correction leaves the earlier one visible."""

    __tablename__ = "service_hours_version"
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hours_id: Mapped[str] = mapped_column(String(64), ForeignKey("service_hours.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[dict] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VolunteerEntry(Record, Base):
    """Training received, awards and evaluations: the other parts of a volunteer's record (2021 rules)."""

    __tablename__ = "volunteer_entry"
    volunteer_id: Mapped[str] = mapped_column(String(64), ForeignKey("volunteer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str | None] = mapped_column(String(200))
    occurred_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal | None] = mapped_column(HOURS)
    note: Mapped[str | None] = mapped_column(Text)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)


class Certificate(Record, Base):
    """A 志愿服务证明 as issued: its figures and content are stored, so it reads the same forever."""

    __tablename__ = "certificate"
    number: Mapped[str] = mapped_column(String(40), unique=True)
    volunteer_id: Mapped[str] = mapped_column(String(64), ForeignKey("volunteer.id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    total_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    record_count: Mapped[int] = mapped_column(Integer)
    # The certified records and the volunteer's identity as stated on it; ID number sealed.
    content: Mapped[dict] = mapped_column(JSONB)
    id_number_enc: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    issuer_name: Mapped[str] = mapped_column(String(200))
    handler_id: Mapped[str] = mapped_column(String(64))
    handler_name: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    create_digest: Mapped[str | None] = mapped_column(DIGEST)


class NumberSequence(Base):
    """Per station and year counters for volunteer and certificate numbers (station-year-sequence)."""

    __tablename__ = "number_sequence"
    station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class ServedDay(Base):
    """How many counted service-hours records a volunteer has on a day at a station.

    The daily rollup cannot answer "distinct volunteers who served in a period" (sums of
    per-day distinct counts double-count a volunteer who served on two days), so this
    keeps one row per (volunteer, day, station): active volunteers are a COUNT(DISTINCT)
    over O(volunteer-days) rows, never over the records themselves.
    """

    __tablename__ = "served_day"
    volunteer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station_path: Mapped[str] = mapped_column(PathType)
    records: Mapped[int] = mapped_column(Integer)
    # The volunteer's Volunteer.member_no, copied when the row is made: the kept sets are built from it.
    member_no: Mapped[int] = mapped_column(Integer)

    # The second: a province's active volunteers over a range of days, index only (docs/performance.md);
    # the third: what was served at given stations themselves (a kept set built from the sets below).
    __table_args__ = (Index("ix_served_day_station_path_day", "station_path", "day"),
                      Index("ix_served_day_day_path", "day", "station_path",
                            postgresql_include=["member_no", "station_id"]),
                      Index("ix_served_day_station_day", "station_id", "day", postgresql_include=["member_no"]))


# Files on records (shared/attachments).
Attachment = attachment_model(Base)

DailyStat = daily_stat_model(Base)
# Active volunteers kept by ancestor and month, built by readers (shared.distinct_sets).
DistinctSet = distinct_set_model(Base)

# Every write of a record is logged in its transaction; reads of sensitive ones by their handlers.
AuditLog = audit_log_model(Base)
IdempotentAnswer = idempotency_model(Base)
track(AuditLog, Volunteer, Team, ServiceHours, VolunteerEntry, Certificate, Attachment)
track(AuditLog, TeamMember, station_path=lambda m: None, record_id=lambda m: f"{m.team_id}:{m.volunteer_id}")


RECORD_TABLES = [m.__table__ for m in (Volunteer, Team, ServiceHours, VolunteerEntry, Certificate, Attachment)]

# Tables with a station_path column, rewritten when a station moves.
PATH_TABLES: list = [*RECORD_TABLES, DailyStat.__table__, ServedDay.__table__]

# Sealed by the service itself, bound to their row (service/volunteers.py `context`,
# service/certificates.py `_context`).
ROW_SEALED = [RowSealed(Volunteer.__table__, "id_number_enc", "volunteers.volunteer.id_number"),
              RowSealed(Volunteer.__table__, "phone_enc", "volunteers.volunteer.phone"),
              RowSealed(Certificate.__table__, "id_number_enc", "volunteers.certificate.id_number")]
