"""The audit question and the rows a process answers GET /internal/audit with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


def is_root(station_path: str) -> bool:
    """The whole tree: "/" or the root station's own path ("/1/"). Rows tied to no station are the root's to read."""
    return station_path.count("/") <= 2


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: str
    actor_role: str
    device_id: str | None = None
    address: str | None = None
    action: str
    operation: str | None = None
    record_table: str
    record_id: str
    station_path: str | None = None
    request_id: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEntry]


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


__all__ = ["AuditEntry", "AuditPage", "AuditQuery", "is_root"]
