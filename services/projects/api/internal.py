from fastapi import APIRouter

from services.projects.deps import ReadSessionDep
from services.projects.service import stats as service
from shared.auth import ServicePrincipalDep
from shared.stats import StatsAnswer, StatsQuery

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


@router.post("/stats", response_model=StatsAnswer)
async def stats(query: StatsQuery, _: ServicePrincipalDep, session: ReadSessionDep) -> StatsAnswer:
    """The counting contract (ARCHITECTURE.md): rows read from the daily rollup."""
    return await service.answer(session, query)
