"""Service hours records (志愿服务记录), their lifecycle actions and history."""

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from services.volunteers.schemas.common import HoursOut
from services.volunteers.schemas.volunteers import Hours
from shared.review import ReviewFlags
from shared.schemas import ClientId, CreateInput, Input, Output, PastDate, RecordRead, RowId, Short

HoursStatus = Literal["recorded", "confirmed", "disputed", "corrected"]
# A community activity or group session of the projects service, carried by id and not
# checked (services never call each other), or free text for anything else.
ActivityKind = Literal["community_activity", "group_session", "free_text"]
Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Service(Input):
    activity_kind: ActivityKind | None = None
    activity_ref: ClientId | None = Field(default=None, description="Activity or session id (projects service)")
    activity_title: Short | None = None
    served_on: PastDate | None = Field(default=None, description="The day the shift started")
    ends_on: PastDate | None = Field(default=None, description="The day it ended, when it ran past midnight: "
                                                               "the next day (default: served_on)")
    start_time: time | None = Field(default=None, description="Local time service began")
    end_time: time | None = Field(default=None, description="Local time it ended, on ends_on")
    hours: Hours | None = Field(default=None, description="Hours of actual service, travel excluded; "
                                                          "default: end_time - start_time")
    content: Content | None = None


class HoursCreate(CreateInput, _Service):
    volunteer_id: ClientId
    team_id: ClientId | None = Field(default=None, description="The organising team; its station organises")
    station_id: RowId | None = Field(default=None, description="The organising station; default: the caller's")
    activity_kind: ActivityKind = "free_text"
    served_on: PastDate
    content: Content


class CorrectionInput(_Service):
    reason: Reason = Field(description="Why the record changes; kept in its history")


class DisputeInput(Input):
    reason: Reason


class ConfirmInput(Input):
    note: Reason | None = None


class HoursRead(RecordRead):
    volunteer_id: str
    team_id: str | None = None
    activity_kind: str
    activity_ref: str | None = None
    activity_title: str | None = None
    served_on: date
    ends_on: date
    start_time: time | None = None
    end_time: time | None = None
    hours: HoursOut
    content: str
    status: HoursStatus
    dispute_reason: str | None = None
    review: ReviewFlags = None


class HoursVersionRead(Output):
    version: int
    action: str
    status: str
    values: dict = Field(description="The record's service fields in this version")
    note: str | None = None
    by: str | None = None
    at: datetime


class HoursHistory(Output):
    items: list[HoursVersionRead]
