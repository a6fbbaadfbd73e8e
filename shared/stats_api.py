"""The caller-scoped view of a service's counts for users, the same in every service beside the
internal query the gateway fans out to (shared.contracts.stats.server).

Each service passes its own `answer(session, StatsQuery)` (shared.rollup.answer with its
metrics) and its station replica; nothing else differs between services. Read where the figures
are read (shared/standby.py), and as of when the answer says (`as_of`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from shared.contracts.stats.schemas import StatsQuery
from shared.contracts.stats.server import ANSWER, Answer, answered
from shared.distinct_sets import keep_sessions
from shared.errors import Forbidden, InvalidInput
from shared.principals import PrincipalDep, Role
from shared.schemas import AnyDate, RowId
from shared.standby import FigureReadDep
from shared.stations import station_to_read
from shared.stats import MAX_PERIODS, GroupBy, Metric


def user_stats_router(answer: Answer, station_model, path: str, name: str, summary: str,
                      denied: frozenset[Role] = frozenset(),
                      denied_detail: str = "This role does not see these counts.") -> APIRouter:
    """GET `path`: this service's counts for the caller's subtree (or a station in it).
    Aggregates only, so officials may use it; roles in `denied` may not."""
    router = APIRouter(prefix=path, tags=["stats"])

    async def stats(
        principal: PrincipalDep, read: FigureReadDep, request: Request,
        from_on: Annotated[AnyDate, Query(alias="from")], to_on: Annotated[AnyDate, Query(alias="to")],
        group_by: Annotated[list[GroupBy], Query(description=f"At most one period, of at most {MAX_PERIODS} in "
                                                             "the range")] = [],  # noqa: B006 - FastAPI copies defaults
        metric: Annotated[list[Metric] | None, Query()] = None,
        station_id: RowId | None = None,
    ) -> Response:
        if principal.role in denied:
            raise Forbidden(denied_detail)
        station_path = await station_to_read(read.session, station_model, principal, station_id)
        try:
            query = StatsQuery(station_path=station_path, from_on=from_on, to_on=to_on, metrics=metric,
                               group_by=group_by)
        except ValidationError as exc:
            # A field's problem names its parameter; the one about both dates names `from`, as the gateway does.
            raise InvalidInput("Check the date range and grouping.", errors=[
                {"field": f"query.{e['loc'][0] if e['loc'] else 'from'}", "message": e["msg"], "code": e["type"]}
                for e in exc.errors()]) from None
        return answered(await answer(read.session, query, keep_sessions(request)), read.as_of)

    stats.__doc__ = summary
    router.add_api_route("", stats, methods=["GET"], response_class=Response, responses=ANSWER, name=name)
    return router
