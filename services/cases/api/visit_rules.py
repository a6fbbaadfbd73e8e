"""/v1/visit-rules: how often people on each roster are due a visit, set per station and inherited down
the tree; /v1/rosters/visits-due: a station's due and overdue list."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from services.cases.deps import ReadSessionDep, SubtreeDep, WriteSessionDep
from services.cases.models import Station, VisitRule
from services.cases.schemas.visit_rules import VisitRuleRead, VisitRules, VisitRuleSet, VisitsDue
from services.cases.service import visit_rules as service
from shared import clock
from shared.pagination import MAX_LIMIT
from shared.principals import PersonalReaderOr403, PersonalWriterOr403
from shared.records import RecordNotFound
from shared.schemas import RowId
from shared.stations import resolve_station

router = APIRouter(tags=["visit-rules"])

WithinDays = Annotated[int, Query(ge=0, le=366, description="Due within this many days, or overdue")]
# The platform's page limit: a longer due list is narrowed by station (`total` says how many there are).
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items at most")]


@router.get("/v1/visit-rules", response_model=VisitRules)
async def visit_rules_in_force(principal: PersonalReaderOr403, session: ReadSessionDep,
                               station_id: Annotated[RowId | None, Query(description="Default: yours")] = None
                               ) -> VisitRules:
    """The visit rule in force at a station for each roster population: its own, a station's above it, or the default."""
    station = await resolve_station(session, Station, principal, station_id)
    return await service.in_force(session, station)


@router.post("/v1/visit-rules", response_model=VisitRuleRead, status_code=status.HTTP_201_CREATED)
async def set_visit_rule(body: VisitRuleSet, principal: PersonalWriterOr403, session: WriteSessionDep,
                         response: Response) -> VisitRuleRead:
    """Set a station's own rule for a population (its whole subtree follows it unless a station below sets its own); setting it again changes it."""
    station = await resolve_station(session, Station, principal, body.station_id)
    rule, created = await service.set_rule(session, principal, station, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return rule


@router.delete("/v1/visit-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_visit_rule(rule_id: str, principal: PersonalWriterOr403, session: WriteSessionDep) -> Response:
    """Remove a station's own rule: the rule above it holds again. The defaults stay (409)."""
    rule = await session.scalar(select(VisitRule).where(VisitRule.id == rule_id).with_for_update())
    if rule is None or (rule.station_path is not None and not principal.in_scope(rule.station_path)):
        raise RecordNotFound("visit rule")
    await service.remove_rule(session, principal, rule)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/rosters/visits-due", response_model=VisitsDue)
async def station_visits_due(principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep,
                             within_days: WithinDays = 7, limit: Limit = MAX_LIMIT) -> VisitsDue:
    """Everyone on a roster in your subtree (or a station's) due a visit within N days or overdue, most overdue first."""
    return await service.due(session, principal, subtree, clock.today(), within_days, limit=limit)
