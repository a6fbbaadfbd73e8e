"""The rows a process answers GET /internal/audit with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
