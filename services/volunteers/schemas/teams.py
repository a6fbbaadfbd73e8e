"""Volunteer teams (志愿服务队) under a station, and their members."""

from datetime import date

from pydantic import Field

from shared.schemas import ClientId, CreateInput, Input, Output, PastDate, RecordRead, RowId, Short, Text, UpdateInput


class TeamCreate(CreateInput):
    name: Short
    description: Text | None = None
    leader_id: ClientId | None = Field(default=None, description="A volunteer; becomes a member too")
    station_id: RowId | None = None


class TeamUpdate(UpdateInput):
    required_fields = frozenset({"name"})

    name: Short | None = None
    description: Text | None = None
    leader_id: ClientId | None = None


class TeamRead(RecordRead):
    name: str
    description: str | None = None
    leader_id: str | None = None


class MemberInput(Input):
    joined_on: PastDate | None = Field(default=None, description="Default: today")


class MemberRead(Output):
    volunteer_id: str
    name: str
    volunteer_number: str
    joined_on: date
    leader: bool


class MemberList(Output):
    items: list[MemberRead]
