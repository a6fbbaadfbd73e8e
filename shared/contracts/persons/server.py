"""POST /internal/persons, mounted by the services that keep a person_day rollup."""

from __future__ import annotations

from fastapi import APIRouter, Request

from shared.principals import ServicePrincipalDep
from shared.contracts.persons.schemas import PersonsAnswer, PersonsQuery
from shared.distinct_sets import Kept, keep_sessions
from shared.persons import persons
from shared.standby import FigureReadDep


def internal_persons_router(model, kept: Kept | None = None) -> APIRouter:
    """`kept`: where the service keeps its persons by ancestor and month (shared.distinct_sets)."""
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/persons", response_model=PersonsAnswer, response_model_exclude_none=True)
    async def distinct_persons(query: PersonsQuery, _: ServicePrincipalDep, read: FigureReadDep,
                               request: Request) -> PersonsAnswer:
        """Persons served per group, as bitmaps of person numbers, for the gateway to union."""
        answer = await persons(read.session, model, query, kept, keep_sessions(request))
        answer.as_of = read.as_of
        return answer

    return router
