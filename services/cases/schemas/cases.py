"""Cases (个案), their lifecycle actions and history."""

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from services.cases.schemas.common import RiskLevel
from shared.schemas import (ClientId, CreateInput, Input, Output, PastDate, RecordRead, RowId, Short, Text, UpdateInput,
                            UserId)



class CaseState(StrEnum):
    """A case's status, for code that compares or sets one; each member's name is its value."""
    intake = "intake"
    assessment = "assessment"
    planning = "planning"
    intervention = "intervention"
    evaluation = "evaluation"
    closed = "closed"
    follow_up = "follow_up"


# The same values as an inline enum in the API's schemas (a StrEnum would become a named component).
CaseStatus = Literal[tuple(s.value for s in CaseState)]  # type: ignore[valid-type]
# Open: being worked, as the cases.open figure counts it. A case in follow-up is closed for the
# figures but not yet done with: it is among the unclosed (a worker's caseload, a station's work).
OPEN_STATUSES = frozenset({CaseState.intake, CaseState.assessment, CaseState.planning, CaseState.intervention,
                           CaseState.evaluation})
UNCLOSED_STATUSES = OPEN_STATUSES | {CaseState.follow_up}
CloseReason = Literal["completed", "referred", "client_withdrew", "unreachable", "other"]


class CaseCreate(CreateInput):
    beneficiary_id: ClientId
    title: Short
    presenting_problem: Text | None = None
    risk_level: RiskLevel = "low"
    worker_id: UserId | None = Field(default=None, description="Default: the caller")
    project_id: ClientId | None = None
    opened_on: PastDate | None = Field(default=None, description="Default: today")
    station_id: RowId | None = Field(default=None, description="Default: the beneficiary's station; a station "
                                                                "below it may be given, none outside it")


class CaseUpdate(UpdateInput):
    required_fields = frozenset({"title", "risk_level"})

    title: Short | None = None
    presenting_problem: Text | None = None
    risk_level: RiskLevel | None = None
    worker_id: UserId | None = None
    project_id: ClientId | None = None


class CaseRead(RecordRead):
    beneficiary_id: str
    title: str
    presenting_problem: str | None = None
    status: CaseStatus
    risk_level: RiskLevel
    worker_id: str | None = None
    project_id: str | None = None
    opened_on: date
    closed_on: date | None = None
    close_reason: CloseReason | None = None
    populations: list[str]
    pending_step: str | None = Field(default=None, description="A step awaiting a supervisor's approval; the case "
                                                               "takes no other step meanwhile")


class TransitionInput(Input):
    on: PastDate | None = Field(default=None, description="When it happened; default today")
    note: Text | None = None


class CloseInput(TransitionInput):
    reason: CloseReason


class CaseEventRead(Output):
    id: str
    action: str
    from_status: str | None = Field(serialization_alias="from")
    to_status: str = Field(serialization_alias="to")
    occurred_on: date
    at: datetime
    by: str | None = None
    reason: str | None = None
    note: str | None = None


class CaseEventList(Output):
    items: list[CaseEventRead]
