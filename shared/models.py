"""Base columns and naming convention for every service's tables (ARCHITECTURE.md "Data").

Each service makes its own DeclarativeBase with `make_base(schema)`; there is no Base
shared between services, so no table can reference another service's schema.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Station paths are compared by prefix; the C collation lets a btree index serve
# `station_path LIKE '/1/12/%'` whatever the database's default collation.
PathType = String(255, collation="C")


def make_base(schema: str) -> type[DeclarativeBase]:
    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
        type_annotation_map = {list[str]: ARRAY(String)}

    return Base


def new_id() -> str:
    return str(uuid.uuid4())


class RecordMixin:
    """Columns of every synced record.

    `id` is a string so tablets can create records offline with their own ids.
    Every table with these columns also has `change_xid xid8`, set by a trigger
    (migrations/common.py) to the writing transaction's id: the sync cursor, which unlike
    a timestamp or sequence can be bounded by the oldest running transaction so a late
    commit is never skipped. It is not mapped: only the sync queries read it.
    """

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    station_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # Indexed with change_xid, in the database only (migrations.common PULL_INDEX), like change_xid itself.
    station_path: Mapped[str] = mapped_column(PathType)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(64), default=None)


class ServiceRecord(RecordMixin):
    """A record table of a service: server-made columns (created_at, updated_at) are read back with
    RETURNING, since an async session cannot lazy-load them after the flush."""

    __mapper_args__ = {"eager_defaults": True}


# A digest of the create request, so a retried POST with a client id can be told
# apart from a different record reusing the id (shared.records.replay).
DIGEST = String(64)
