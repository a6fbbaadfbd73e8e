"""Counting a project's casework targets (DOMAIN.md "Projects") over the project's counting period:
person-times, the people with a case of the project, and full cases of at least N sessions (N per target)."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.repository import evidence
from services.cases.repository import project_stats as repo
from shared.attachments.schemas import EvidenceGap
from shared.schemas import OrderedPeriod, RowId


# The file every closure needs (services/cases/api/attachments.py CASE_PURPOSES).
CLOSURE_REPORT = "closure_report"


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


async def answer(session: AsyncSession, query: ProjectStatsQuery) -> ProjectStatsAnswer:
    # A case names its project but is filed at its own station: one filed outside the project's
    # coverage (linked before links were checked, or its station moved since) is not the contract's.
    paths = await repo.station_paths(session, query.station_ids)
    per_case = await repo.service_records_per_case(session, query.project_id, paths, query.from_on, query.to_on)
    return ProjectStatsAnswer(
        project_id=query.project_id,
        person_times_casework=sum(pt for _, pt in per_case),
        case_beneficiaries=await repo.beneficiaries_with_cases(session, query.project_id, paths, query.from_on,
                                                               query.to_on),
        full_cases={str(n): sum(1 for records, _ in per_case if records >= n) for n in query.min_sessions},
        closed_without_report=[EvidenceGap(record="case", id=i, on=on, lacking=CLOSURE_REPORT) for i, on in
                               await evidence.closed_without(session, query.project_id, paths, query.from_on,
                                                             query.to_on, CLOSURE_REPORT)],
    )
