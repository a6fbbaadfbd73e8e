from fastapi import APIRouter

from services.cases.deps import ReadSessionDep
from services.cases.service import project_stats as service
from services.cases.service.project_stats import ProjectStatsAnswer, ProjectStatsQuery
from shared.principals import ServicePrincipalDep

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


@router.post("/project-stats", response_model=ProjectStatsAnswer)
async def project_stats(query: ProjectStatsQuery, _: ServicePrincipalDep, session: ReadSessionDep
                        ) -> ProjectStatsAnswer:
    """A project's casework figures for the gateway's progress endpoint (its cases within its coverage)."""
    return await service.answer(session, query)
