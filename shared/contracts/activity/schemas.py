"""The activity question (the counting contract's StatsQuery) and its answer: sets, not counts, since a
station or a worker active in two services is one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ActivityGroup(BaseModel):
    population: str | None = Field(default=None, description="shared.stats.ALL when grouped by population")
    period: str | None = None
    station: int | None = None
    stations: list[int] = Field(description="The stations that recorded any service in the group")
    workers: list[str] = Field(description="The accounts that recorded it (user ids, never names)")


class ActivityAnswer(BaseModel):
    groups: list[ActivityGroup]
    as_of: datetime | None = Field(default=None, description="As StatsAnswer.as_of")
