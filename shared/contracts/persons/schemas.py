"""The persons question and answer, and the bitmap encoding both sides read and write."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, Field
from pyroaring import BitMap

from shared.contracts.stats.schemas import StatsQuery


def encode(members: BitMap) -> str:
    """Roaring's portable serialization (the same bytes in every CRoaring binding), in base64 for JSON."""
    return base64.b64encode(members.serialize()).decode()


def decode(text: str) -> BitMap:
    return BitMap.deserialize(base64.b64decode(text))


class PersonsGroup(BaseModel):
    population: str | None = None
    period: str | None = None
    station: int | None = None
    count: int = Field(description="Distinct persons in the group as this service counts them")
    bitmap: str = Field(description="Base64 of the portable Roaring bitmap of their person numbers")


class PersonsAnswer(BaseModel):
    groups: list[PersonsGroup]
    as_of: datetime | None = Field(default=None, description="As StatsAnswer.as_of")


class PersonsQuery(StatsQuery):
    pass
