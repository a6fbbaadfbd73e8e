"""Supervision of casework: approval rules, steps submitted for approval and the decisions, and the
supervisors' assignments to stations."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from services.cases.schemas.cases import CaseEventRead, CaseRead
from services.cases.schemas.records import AssessmentRead, PlanRead
from shared.schemas import Input, Output, RowId, Text, UserId

# The case actions a rule may hold (services/cases/service/cases.py TRANSITIONS): the lifecycle's steps
# forward; follow-up and reopening are not gated.
ApprovableStep = Literal["assess", "plan", "intervene", "evaluate", "close"]
APPROVABLE_STEPS: tuple[str, ...] = ("assess", "plan", "intervene", "evaluate", "close")
# Where no station above a case sets a rule: the service plan and the closure.
DEFAULT_STEPS: tuple[str, ...] = ("plan", "close")
# Risk levels whose every step needs approval when a rule asks for it (`high_risk`).
HIGH_RISK_LEVELS = frozenset({"high", "critical"})

ApprovalStatus = Literal["pending", "approved", "returned"]
PENDING, APPROVED, RETURNED = "pending", "approved", "returned"
Comments = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class ApprovalRuleInput(Input):
    steps: list[ApprovableStep] = Field(max_length=len(APPROVABLE_STEPS),
                                        description="The steps that need a supervisor's approval")
    high_risk: bool = Field(default=False, description="Every step of a high or critical risk case needs approval")

    @field_validator("steps")
    @classmethod
    def _distinct(cls, steps: list[str]) -> list[str]:
        return sorted(set(steps), key=APPROVABLE_STEPS.index)


class ApprovalRuleRead(Output):
    station_id: int
    steps: list[ApprovableStep]
    high_risk: bool
    set_at_station_id: int | None = Field(description="The station whose rule applies here (this one or one "
                                                      "above it); null: the platform's default")


class ApprovalCase(Output):
    id: str
    beneficiary_id: str
    title: str
    status: str
    risk_level: str
    worker_id: str | None = None
    opened_on: date


class ApprovalRead(Output):
    id: str
    case_id: str
    station_id: int
    step: ApprovableStep
    from_status: str
    status: ApprovalStatus
    on: date = Field(description="The date the step takes when approved")
    reason: str | None = None
    note: str | None = None
    submitted_by: str | None = None
    submitted_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    comments: str | None = None
    case: ApprovalCase


class ApproveInput(Input):
    comments: Text | None = None


class ReturnInput(Input):
    comments: Comments = Field(description="What the worker must change; shown in their caseload")


class AssignmentCreate(Input):
    supervisor_id: UserId = Field(description="The supervisor's user id")
    station_id: RowId = Field(description="The station supervised, with every station below it")


class AssignmentRead(Output):
    id: str
    supervisor_id: str
    station_id: int
    created_at: datetime
    created_by: str | None = None


class CaseFile(Output):
    """What a supervisor reads to decide a step: the case, its assessments, service plans and steps."""
    approval_id: str
    case: CaseRead
    assessments: list[AssessmentRead]
    plans: list[PlanRead]
    events: list[CaseEventRead]
