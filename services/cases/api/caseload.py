from typing import Annotated

from fastapi import APIRouter, Query

from services.cases.deps import ReadSessionDep
from services.cases.schemas.records import Caseload, DueList
from services.cases.schemas.visit_rules import VisitsDue
from services.cases.service import caseload as service
from services.cases.api.visit_rules import Limit
from services.cases.service import visit_rules
from shared import clock
from shared.pagination import MAX_LIMIT
from shared.principals import PersonalReaderOr403

router = APIRouter(prefix="/v1/caseload", tags=["caseload"])


@router.get("", response_model=Caseload)
async def my_caseload(principal: PersonalReaderOr403, session: ReadSessionDep) -> Caseload:
    """Cases assigned to me that are not closed, each with its next due item."""
    return await service.caseload(session, principal)


@router.get("/due", response_model=DueList)
async def my_due_items(principal: PersonalReaderOr403, session: ReadSessionDep,
                       within_days: Annotated[int, Query(ge=0, le=366)] = 7) -> DueList:
    """Follow-ups, plan reviews and goals of my cases due within N days or overdue, soonest first."""
    return await service.due(session, principal, within_days)


@router.get("/visits-due", response_model=VisitsDue)
async def my_visits_due(principal: PersonalReaderOr403, session: ReadSessionDep,
                        within_days: Annotated[int, Query(ge=0, le=366)] = 7,
                        limit: Limit = MAX_LIMIT) -> VisitsDue:
    """People on a roster assigned to me due a visit within N days or overdue, most overdue first."""
    return await visit_rules.due(session, principal, None, clock.today(), within_days, worker_id=principal.user_id,
                                 limit=limit)
