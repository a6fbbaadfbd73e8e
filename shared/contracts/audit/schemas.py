"""The audit question and answer. A row and a page are shared.audit's, which its route answers with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.audit import AuditEntry, AuditPage


class AuditQuery(BaseModel):
    """Rows of the caller's subtree, newest first; `before` and `before_id` continue a merged
    listing: rows strictly before (before, before_id) in the order (at, id) descending."""

    station_path: str = Field(max_length=255)
    record_table: str | None = None
    record_id: str | None = None
    actor_id: str | None = None
    before: datetime | None = None
    before_id: int | None = Field(default=None, ge=0)
    limit: int = Field(ge=1, le=500)

    def params(self) -> dict[str, str | int]:
        """As query parameters, leaving out those not given."""
        params: dict[str, str | int] = {"station_path": self.station_path, "limit": self.limit}
        for name, value in (("record_table", self.record_table), ("record_id", self.record_id),
                            ("actor_id", self.actor_id), ("before", self.before.isoformat() if self.before else None),
                            ("before_id", self.before_id)):
            if value is not None:
                params[name] = value
        return params


__all__ = ["AuditEntry", "AuditPage", "AuditQuery"]
