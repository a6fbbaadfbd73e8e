"""A case's records: assessments, service plans, service records, referrals, follow-ups."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from services.cases.schemas.common import ContactMode, RiskLevel
from shared.review import ReviewFlags
from shared.schemas import AnyDate, CreateInput, Input, Output, PastDate, RecordRead, Short, Text, UpdateInput, UserId

# The "six services" Sichuan stations report against (DOMAIN.md).
ServiceType = Literal["needs_assessment", "resource_linking", "social_assistance", "elder_child_care",
                      "community_governance", "livelihood_development"]
GoalStatus = Literal["open", "in_progress", "achieved", "not_achieved", "dropped"]
PlanStatus = Literal["active", "completed", "superseded"]
Area = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Read(RecordRead):
    case_id: str


class AssessmentCreate(CreateInput):
    assessed_on: PastDate
    areas: list[Area] = Field(default_factory=list, max_length=30)
    needs: Text | None = None
    risk_level: RiskLevel | None = None
    notes: Text | None = None


class AssessmentUpdate(UpdateInput):
    required_fields = frozenset({"assessed_on", "areas"})

    assessed_on: PastDate | None = None
    areas: list[Area] | None = Field(default=None, max_length=30)
    needs: Text | None = None
    risk_level: RiskLevel | None = None
    notes: Text | None = None


class AssessmentRead(_Read):
    assessed_on: date
    areas: list[str]
    needs: str | None = None
    risk_level: str | None = None
    notes: str | None = None


class Goal(Input):
    goal: Short
    measure: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    due_on: AnyDate | None = None
    status: GoalStatus = "open"


class PlanCreate(CreateInput):
    planned_on: PastDate
    status: PlanStatus = "active"
    goals: list[Goal] = Field(default_factory=list, max_length=30)
    review_on: AnyDate | None = None
    notes: Text | None = None


class PlanUpdate(UpdateInput):
    required_fields = frozenset({"planned_on", "status", "goals"})

    planned_on: PastDate | None = None
    status: PlanStatus | None = None
    goals: list[Goal] | None = Field(default=None, max_length=30)
    review_on: AnyDate | None = None
    notes: Text | None = None


class GoalRead(Output):
    goal: str
    measure: str | None = None
    due_on: date | None = None
    status: str


class PlanRead(_Read):
    planned_on: date
    status: str
    goals: list[GoalRead]
    review_on: date | None = None
    notes: str | None = None


Yuan = Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), max_digits=12, decimal_places=2)]


class ServiceRecordCreate(CreateInput):
    served_on: PastDate | None = Field(default=None, description="Default: today in the platform's time zone "
                                                                 "(HAOLIN_TIMEZONE, Asia/Shanghai), not the client's")
    mode: ContactMode
    duration_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    service_type: ServiceType
    resources_yuan: Yuan | None = None
    person_times: int = Field(default=1, ge=1, le=1000)
    worker_id: UserId | None = Field(default=None, description="Default: the caller")


class ServiceRecordUpdate(UpdateInput):
    required_fields = frozenset({"served_on", "mode", "content", "service_type", "person_times", "worker_id"})

    served_on: PastDate | None = None
    mode: ContactMode | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)] | None = None
    service_type: ServiceType | None = None
    resources_yuan: Yuan | None = None
    person_times: int | None = Field(default=None, ge=1, le=1000)
    worker_id: UserId | None = None


class ServiceRecordRead(_Read):
    beneficiary_id: str
    served_on: date
    mode: str
    duration_minutes: int | None = None
    content: str | None = Field(description="null for a role that does not work with the person (administrator)")
    service_type: str
    resources_yuan: Decimal | None = None
    person_times: int
    worker_id: str
    populations: list[str]
    review: ReviewFlags = None


class ReferralCreate(CreateInput):
    agency: Short
    reason: Text | None = None
    referred_on: PastDate
    notes: Text | None = None


class ReferralUpdate(UpdateInput):
    required_fields = frozenset({"agency", "referred_on"})

    agency: Short | None = None
    reason: Text | None = None
    referred_on: PastDate | None = None
    notes: Text | None = None


class ReferralRead(_Read):
    agency: str
    reason: str | None = None
    referred_on: date
    status: Literal["pending", "accepted", "rejected", "completed"]
    responded_on: date | None = None
    completed_on: date | None = None
    notes: str | None = None
    review: ReviewFlags = None


class FollowUpCreate(CreateInput):
    due_on: AnyDate
    done_on: PastDate | None = None
    method: ContactMode | None = None
    notes: Text | None = None


class FollowUpUpdate(UpdateInput):
    required_fields = frozenset({"due_on"})

    due_on: AnyDate | None = None
    done_on: PastDate | None = None
    method: ContactMode | None = None
    notes: Text | None = None


class FollowUpRead(_Read):
    due_on: date
    done_on: date | None = None
    method: str | None = None
    notes: str | None = None


class ReturnedStep(Output):
    """The last decision on a case's step, when it was returned: what the worker must redo."""
    approval_id: str
    step: str
    comments: str | None = None
    returned_by: str | None = None
    returned_at: datetime


class CaseloadItem(Output):
    case: "CaseSummary"
    next_due: "DueItem | None" = None
    returned: ReturnedStep | None = Field(default=None, description="The case's last step submitted for approval, "
                                                                   "when a supervisor returned it: redo it")


class CaseSummary(Output):
    id: str
    beneficiary_id: str
    title: str
    status: str
    risk_level: str
    opened_on: date
    station_id: int
    pending_step: str | None = None


class DueItem(Output):
    kind: Literal["follow_up", "plan_review", "goal"]
    due_on: date
    overdue: bool
    case_id: str
    record_id: str
    label: str | None = None


class Caseload(Output):
    items: list[CaseloadItem]


class DueList(Output):
    items: list[DueItem]


CaseloadItem.model_rebuild()
