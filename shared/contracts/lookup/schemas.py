"""The lookup's question and answer, which every owner's lookup route takes and gives."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.schemas import CleanText

CHUNK = 500  # ids per request; the owners' lookups take at most this many

# The wire of every lookup: POST {"ids": [...]} (and what the owner narrows by) -> {"items": [...]}.
LookupId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class LookupQuery(CleanText):
    model_config = ConfigDict(extra="forbid")
    ids: list[LookupId] = Field(max_length=CHUNK)


class LookupItem(BaseModel):
    id: str
    station_id: int


class LookupAnswer(BaseModel):
    items: list[LookupItem]
