"""Supervision records (督导记录): a supervisor's session with workers of a station."""

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator

from shared.schemas import Input, PastDate, RecordRead, RowId, Short, Text, UpdateInput, UserId

SupervisionMode = Literal["individual", "group", "on_site", "online"]
# A session of more than a day is two sessions.
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]


def _distinct(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


class SupervisionCreate(Input):
    station_id: RowId | None = Field(default=None, description="The station whose workers were supervised; "
                                                               "default: your own")
    held_on: PastDate
    supervisor_id: UserId | None = Field(default=None, description="Default: the caller, when a supervisor")
    worker_ids: list[UserId] = Field(min_length=1, max_length=50, description="The workers supervised")
    mode: SupervisionMode
    duration_minutes: Minutes
    topics: list[Short] = Field(min_length=1, max_length=20)
    case_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100, description="Cases discussed, of the station's subtree")
    notes: Text | None = None

    _worker_ids = field_validator("worker_ids")(_distinct)
    _case_ids = field_validator("case_ids")(_distinct)


class SupervisionUpdate(UpdateInput):
    required_fields = frozenset({"held_on", "worker_ids", "mode", "duration_minutes", "topics", "case_ids"})

    held_on: PastDate | None = None
    worker_ids: list[UserId] | None = Field(default=None, min_length=1, max_length=50)
    mode: SupervisionMode | None = None
    duration_minutes: Minutes | None = None
    topics: list[Short] | None = Field(default=None, min_length=1, max_length=20)
    case_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(default=None, max_length=100)
    notes: Text | None = None

    _worker_ids = field_validator("worker_ids")(_distinct)
    _case_ids = field_validator("case_ids")(_distinct)


class SupervisionRead(RecordRead):
    held_on: date
    supervisor_id: str
    worker_ids: list[str]
    mode: SupervisionMode
    duration_minutes: int
    topics: list[str]
    case_ids: list[str]
    notes: str | None = None
