"""A project's casework figures, asked of the cases service for the gateway's progress answer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.attachments.schemas import EvidenceGap
from shared.schemas import OrderedPeriod, RowId


class ProjectStatsQuery(OrderedPeriod):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    project_id: str = Field(min_length=1, max_length=64)
    station_ids: list[RowId] = Field(min_length=1, max_length=500,
                                   description="The project's coverage: only cases filed in these stations' subtrees "
                                               "count, whatever else names the project")
    from_on: date = Field(alias="from")
    to_on: date = Field(alias="to", description="Inclusive")
    min_sessions: list[int] = Field(default_factory=lambda: [1], max_length=10,
                                    description="Thresholds for full cases: a case counts with >= N service records")



class ProjectStatsAnswer(BaseModel):
    project_id: str
    person_times_casework: int
    case_beneficiaries: int = Field(description="Distinct people with a case of the project open in the period")
    full_cases: dict[str, int] = Field(description="min_sessions (as text) -> cases with at least that many")
    closed_without_report: list[EvidenceGap] = Field(
        default_factory=list, description="The project's cases closed in the period without a closure report")
    as_of: datetime | None = Field(default=None, description="As StatsAnswer.as_of (shared.contracts.stats)")
