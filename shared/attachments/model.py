"""The attachment table each service keeps in its own schema (one lineage's migration creates it:
migrations/common.py `create_attachment_table`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.crypto import Sealed
from shared.models import RecordMixin


def attachment_model(Base) -> type:
    """The `attachment` table of `Base`'s schema: one row per file, naming the record it belongs to."""
    schema = Base.metadata.schema

    class Attachment(RecordMixin, Base):
        __tablename__ = "attachment"
        __mapper_args__ = {"eager_defaults": True}
        # The record the file belongs to: a table of this schema and its id (no foreign key, so one
        # table serves every kind of record the service keeps).
        owner_table: Mapped[str] = mapped_column(String(40))
        owner_id: Mapped[str] = mapped_column(String(64))
        purpose: Mapped[str] = mapped_column(String(24))
        # The name the uploader gave: it may name the person ("张秀英知情同意书.pdf"), so sealed.
        file_name: Mapped[str | None] = mapped_column(Sealed(f"{schema}.attachment.file_name"))
        kind: Mapped[str] = mapped_column(String(8))  # as stored: jpeg, png, pdf
        received_kind: Mapped[str] = mapped_column(String(8))  # as sent (a heic is stored as jpeg)
        size: Mapped[int] = mapped_column(BigInteger)
        sha256: Mapped[str] = mapped_column(String(64))
        storage_key: Mapped[str] = mapped_column(String(80))
        thumbnail_key: Mapped[str | None] = mapped_column(String(90))
        width: Mapped[int | None] = mapped_column(Integer)
        height: Mapped[int | None] = mapped_column(Integer)

        __table_args__ = (Index("ix_attachment_owner", "owner_table", "owner_id"),)

    return Attachment
