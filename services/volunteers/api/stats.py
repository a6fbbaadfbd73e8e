from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError

from services.volunteers.deps import ReadSessionDep
from services.volunteers.models import Station
from services.volunteers.service import stats as service
from shared.auth import PrincipalDep, Role
from shared.errors import Forbidden, InvalidInput
from shared.stations import resolve_station
from shared.stats import GroupBy, Metric, StatsAnswer, StatsQuery

router = APIRouter(prefix="/v1/volunteers/stats", tags=["stats"])


@router.get("", response_model=StatsAnswer)
async def volunteer_stats(
    principal: PrincipalDep, session: ReadSessionDep,
    from_on: Annotated[date, Query(alias="from")], to_on: Annotated[date, Query(alias="to")],
    group_by: Annotated[list[GroupBy], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    metric: Annotated[list[Metric] | None, Query()] = None,
    station_id: int | None = None,
) -> StatsAnswer:
    """Volunteer counts of your subtree (no personal data): registered, active, hours, person-times."""
    if principal.role is Role.volunteer:
        raise Forbidden("A volunteer sees their own record, hours and certificates only.")
    _, path = await resolve_station(session, Station, principal, station_id)
    try:
        query = StatsQuery(station_path=path, from_on=from_on, to_on=to_on, metrics=metric, group_by=group_by)
    except ValidationError as exc:
        raise InvalidInput("Check the date range and grouping.", errors=[
            {"field": "query", "message": e["msg"], "code": e["type"]} for e in exc.errors()]) from None
    return await service.answer(session, query)
