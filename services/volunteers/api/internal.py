from fastapi import APIRouter

from services.volunteers.deps import ReadSessionDep
from services.volunteers.service import stats as service
from shared.auth import ServicePrincipalDep
from shared.stats import StatsAnswer, StatsQuery

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


@router.post("/stats", response_model=StatsAnswer)
async def stats(query: StatsQuery, _: ServicePrincipalDep, session: ReadSessionDep) -> StatsAnswer:
    """The counting contract (ARCHITECTURE.md): volunteer rows read from the rollups."""
    return await service.answer(session, query)
