"""POST /internal/persons, mounted by the services that keep a person_day rollup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from shared.principals import ServicePrincipalDep
from shared.contracts.persons.schemas import PersonsAnswer, PersonsQuery
from shared.db import read_session
from shared.persons import persons


def internal_persons_router(model) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/persons", response_model=PersonsAnswer, response_model_exclude_none=True)
    async def distinct_persons(query: PersonsQuery, _: ServicePrincipalDep,
                               session: Annotated[AsyncSession, Depends(read_session)]) -> PersonsAnswer:
        """Persons served per group, as bitmaps of person numbers, for the gateway to union."""
        return await persons(session, model, query)

    return router
