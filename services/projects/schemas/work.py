"""Groups (小组), their sessions (节), community activities (社区活动) and attendance."""

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.schemas import (AnyDate, ClientId, CreateInput, Input, Output, PopulationCode, RecordRead, RowId, Short,
                            Text, UpdateInput)

Stage = Literal["preparation", "forming", "transition", "maturity", "ending"]
Kind = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Headcount = Annotated[int, Field(ge=0, le=100_000, description="Anonymous headcount: people not named")]
Photo = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Yuan = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class AttendeeInput(Input):
    id: ClientId | None = Field(default=None, description="Client-made id of the attendance row")
    beneficiary_id: ClientId


class AttendanceBatch(Input):
    attendees: list[AttendeeInput] = Field(max_length=500, description="The whole list of named attendees")
    anonymous_count: Headcount | None = None


class AttendanceRead(Output):
    id: str
    beneficiary_id: str
    populations: list[str]
    created_by: str | None = None


class AttendanceList(Output):
    items: list[AttendanceRead]
    named_count: int
    anonymous_count: int
    person_times: int


class GroupCreate(CreateInput):
    project_id: ClientId
    station_id: RowId | None = None
    title: Short
    kind: Kind | None = None
    target_population: PopulationCode | None = None
    planned_sessions: int | None = Field(default=None, ge=1, le=500)
    stage: Stage = "preparation"
    starts_on: AnyDate | None = Field(default=None, description="Default: today")
    members: list[ClientId] = Field(default_factory=list, max_length=500, description="Beneficiary ids")


class GroupUpdate(UpdateInput):
    required_fields = frozenset({"title", "stage", "starts_on", "members"})

    title: Short | None = None
    kind: Kind | None = None
    target_population: PopulationCode | None = None
    planned_sessions: int | None = Field(default=None, ge=1, le=500)
    stage: Stage | None = None
    starts_on: AnyDate | None = None
    members: list[ClientId] | None = Field(default=None, max_length=500)


class GroupRead(RecordRead):
    project_id: str
    title: str
    kind: str | None = None
    target_population: str | None = None
    planned_sessions: int | None = None
    stage: Stage
    starts_on: date
    members: list[str]


class SessionCreate(CreateInput):
    held_on: AnyDate
    starts_at: time | None = None
    topic: Short | None = None
    anonymous_count: Headcount = 0
    notes: Text | None = None
    attendees: list[AttendeeInput] = Field(default_factory=list, max_length=500)


class SessionUpdate(UpdateInput):
    required_fields = frozenset({"held_on", "anonymous_count"})

    held_on: AnyDate | None = None
    starts_at: time | None = None
    topic: Short | None = None
    anonymous_count: Headcount | None = None
    notes: Text | None = None


class _Counted(RecordRead):
    anonymous_count: int
    named_count: int
    person_times: int


class SessionRead(_Counted):
    group_id: str
    project_id: str
    held_on: date
    starts_at: time | None = None
    topic: str | None = None
    notes: str | None = None


class ActivityCreate(CreateInput):
    project_id: ClientId
    station_id: RowId | None = None
    title: Short
    kind: Kind | None = Field(default=None, description="lecture, health_check, festival, clean_up, ...")
    place: Short | None = None
    held_on: AnyDate
    starts_at: time | None = None
    ends_at: time | None = None
    anonymous_count: Headcount = 0
    volunteer_ids: list[ClientId] = Field(default_factory=list, max_length=500)
    resources_yuan: Yuan | None = None
    photos: list[Photo] = Field(default_factory=list, max_length=50, description="URLs or media ids")
    notes: Text | None = None
    attendees: list[AttendeeInput] = Field(default_factory=list, max_length=500)


class ActivityUpdate(UpdateInput):
    required_fields = frozenset({"title", "held_on", "anonymous_count", "volunteer_ids", "photos"})

    title: Short | None = None
    kind: Kind | None = None
    place: Short | None = None
    held_on: AnyDate | None = None
    starts_at: time | None = None
    ends_at: time | None = None
    anonymous_count: Headcount | None = None
    volunteer_ids: list[ClientId] | None = Field(default=None, max_length=500)
    resources_yuan: Yuan | None = None
    photos: list[Photo] | None = Field(default=None, max_length=50)
    notes: Text | None = None


class ActivityRead(_Counted):
    project_id: str
    title: str
    kind: str | None = None
    place: str | None = None
    held_on: date
    starts_at: time | None = None
    ends_at: time | None = None
    volunteer_ids: list[str]
    resources_yuan: Decimal | None = None
    photos: list[str]
    notes: str | None = None
