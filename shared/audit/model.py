"""The audit table of each process's schema, as the ORM maps it (what the migrations make of it: ddl.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import PathType

MIN_RETENTION_DAYS = 183  # six months: DOMAIN.md "Network logs are kept at least 6 months"

CREATE, UPDATE, DELETE, READ = "create", "update", "delete", "read"

# The columns a raw INSERT of audit rows names (reads by id, lean writes), the rest being defaults.
LOG_COLUMNS = ("actor_id, actor_role, device_id, address, request_id, operation, action, record_table, record_id, "
               "station_path")


def audit_log_model(Base) -> type:
    """The audit table of one process's schema."""

    class AuditLog(Base):
        __tablename__ = "audit_log"
        id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
        at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.clock_timestamp())
        actor_id: Mapped[str] = mapped_column(String(64))
        actor_role: Mapped[str] = mapped_column(String(16))
        device_id: Mapped[str | None] = mapped_column(String(64))
        address: Mapped[str | None] = mapped_column(String(64))
        request_id: Mapped[str | None] = mapped_column(String(64))
        # create, update, delete, read, or a named event (login, login_failed...).
        action: Mapped[str] = mapped_column(String(24))
        # The API operation that did it (the route's name: "case_close", "sync_push"...).
        operation: Mapped[str | None] = mapped_column(String(80))
        record_table: Mapped[str] = mapped_column(String(40))
        record_id: Mapped[str] = mapped_column(String(64))
        station_path: Mapped[str | None] = mapped_column(PathType)

        __table_args__ = (
            Index("ix_audit_log_record", "record_table", "record_id", "at"),
            Index("ix_audit_log_actor", "actor_id", "at"),
            Index("ix_audit_log_at", "at"),
        )

    return AuditLog
