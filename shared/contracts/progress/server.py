"""POST /internal/project-stats, mounted by the cases service with its counting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.principals import ServicePrincipalDep
from shared.contracts.progress.schemas import ProjectStatsAnswer, ProjectStatsQuery
from shared.standby import FigureReadDep

Answer = Callable[[AsyncSession, ProjectStatsQuery], Awaitable[ProjectStatsAnswer]]


def project_stats_router(answer: Answer) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/project-stats", response_model=ProjectStatsAnswer)
    async def project_stats(query: ProjectStatsQuery, _: ServicePrincipalDep, read: FigureReadDep) -> ProjectStatsAnswer:
        """A project's casework figures for the gateway's progress endpoint (its cases within its coverage)."""
        answered = await answer(read.session, query)
        answered.as_of = read.as_of
        return answered

    return router
