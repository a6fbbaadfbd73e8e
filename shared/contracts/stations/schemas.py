"""The station tree as the gateway pushes it to the services."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class StationReplica(BaseModel):
    id: int
    parent_id: int | None = None
    path: str = Field(pattern=r"^/(\d+/)+$")
    kind: str
    name: str
    deleted_at: datetime | None = None
    change_seq: int


class StationPush(BaseModel):
    stations: list[StationReplica]


class StationsCursor(BaseModel):
    change_seq: int = Field(description="The highest change the service applied (0: none)")


class StationsApplied(BaseModel):
    applied: int = Field(description="Stations inserted or brought up to date")
