"""Visits (探访): a light record of seeing a person, and the situation found, without a case."""

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from services.cases.schemas.common import RiskLevel
from shared.schemas import ClientId, CreateInput, Input, PastDate, RecordRead, Short, Text, UpdateInput, UserId

VisitMode = Literal["home_visit", "phone", "video"]
# The person's situation as the visitor found it: one code each, and needs as a list.
HealthCode = Literal["good", "fair", "poor", "critical"]
SafetyCode = Literal["safe", "at_risk", "unsafe"]
LivingCode = Literal["adequate", "basic", "inadequate"]
NeedCode = Literal["daily_care", "meals", "medical", "financial", "housing", "psychological", "legal", "education",
                   "other"]


def _unique(needs: list[str] | None) -> list[str] | None:
    return list(dict.fromkeys(needs)) if needs is not None else None


class VisitCreate(CreateInput):
    visited_on: PastDate | None = Field(default=None, description="Default: today in the platform's time zone")
    mode: VisitMode
    worker_id: UserId | None = Field(default=None, description="Default: the caller")
    health: HealthCode | None = None
    safety: SafetyCode | None = None
    living: LivingCode | None = None
    needs: list[NeedCode] = Field(default_factory=list, max_length=9)
    notes: Text | None = None
    follow_up: bool = Field(default=False, description="The visit found something to act on "
                                                       "(open a case with POST .../open-case)")

    _needs = field_validator("needs")(_unique)


class VisitUpdate(UpdateInput):
    required_fields = frozenset({"visited_on", "mode", "worker_id", "needs", "follow_up"})

    visited_on: PastDate | None = None
    mode: VisitMode | None = None
    worker_id: UserId | None = None
    health: HealthCode | None = None
    safety: SafetyCode | None = None
    living: LivingCode | None = None
    needs: list[NeedCode] | None = Field(default=None, max_length=9)
    notes: Text | None = None
    follow_up: bool | None = None

    _needs = field_validator("needs")(_unique)


class VisitRead(RecordRead):
    beneficiary_id: str
    visited_on: date
    mode: str
    worker_id: str
    health: str | None = Field(default=None, description="null for a role that does not work with the person")
    safety: str | None = None
    living: str | None = None
    needs: list[str] | None = None
    notes: str | None = None
    follow_up: bool
    case_id: str | None = Field(default=None, description="The case this visit opened")
    populations: list[str]

    @field_validator("needs", mode="before")
    @classmethod
    def _split(cls, value):
        # Stored sealed as one comma-joined value.
        if isinstance(value, str):
            return [v for v in value.split(",") if v]
        return value


class OpenCaseInput(Input):
    """The case a visit opens: the visit's person, opened today, marked as needing follow-up."""

    id: ClientId | None = Field(default=None, description="Client-made id of the case; a retry answers 200")
    title: Short
    presenting_problem: Text | None = None
    risk_level: RiskLevel = "low"
