"""The counting contract's two routes, the same in every service: the internal query the
gateway fans out to (service token only), and the caller-scoped view for users.

Each service passes its own `answer(session, StatsQuery)` (shared.rollup.answer with its
metrics) and its station replica; nothing else differs between services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import read_session
from shared.errors import Forbidden, InvalidInput
from shared.principals import PrincipalDep, Role, ServicePrincipalDep
from shared.schemas import AnyDate, RowId
from shared.stations import station_to_read
from shared.stats import MAX_PERIODS, GroupBy, Metric, StatsAnswer, StatsQuery

# A service's answer: the rows of a StatsAnswer, as plain dicts (shared.rollup.answer).
Answer = Callable[[AsyncSession, StatsQuery], Awaitable[list[dict]]]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
ANSWER = {200: {"model": StatsAnswer, "description": "Rows of {metric, population?, period?, station?, value}"}}


def _answered(rows: list[dict]) -> Response:
    # Written as it is: validating up to MAX_ROWS rows against StatsAnswer again would cost seconds.
    return Response(orjson.dumps({"rows": rows}), media_type="application/json")


def internal_stats_router(answer: Answer) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/stats", response_class=Response, responses=ANSWER)
    async def stats(query: StatsQuery, _: ServicePrincipalDep, session: ReadSessionDep) -> Response:
        """The counting contract (ARCHITECTURE.md): rows read from the daily rollup."""
        return _answered(await answer(session, query))

    return router


def user_stats_router(answer: Answer, station_model, path: str, name: str, summary: str,
                      denied: frozenset[Role] = frozenset(),
                      denied_detail: str = "This role does not see these counts.") -> APIRouter:
    """GET `path`: this service's counts for the caller's subtree (or a station in it).
    Aggregates only, so officials may use it; roles in `denied` may not."""
    router = APIRouter(prefix=path, tags=["stats"])

    async def stats(
        principal: PrincipalDep, session: ReadSessionDep,
        from_on: Annotated[AnyDate, Query(alias="from")], to_on: Annotated[AnyDate, Query(alias="to")],
        group_by: Annotated[list[GroupBy], Query(description=f"At most one period, of at most {MAX_PERIODS} in "
                                                             "the range")] = [],  # noqa: B006 - FastAPI copies defaults
        metric: Annotated[list[Metric] | None, Query()] = None,
        station_id: RowId | None = None,
    ) -> Response:
        if principal.role in denied:
            raise Forbidden(denied_detail)
        station_path = await station_to_read(session, station_model, principal, station_id)
        try:
            query = StatsQuery(station_path=station_path, from_on=from_on, to_on=to_on, metrics=metric,
                               group_by=group_by)
        except ValidationError as exc:
            # A field's problem names its parameter; the one about both dates names `from`, as the gateway does.
            raise InvalidInput("Check the date range and grouping.", errors=[
                {"field": f"query.{e['loc'][0] if e['loc'] else 'from'}", "message": e["msg"], "code": e["type"]}
                for e in exc.errors()]) from None
        return _answered(await answer(session, query))

    stats.__doc__ = summary
    router.add_api_route("", stats, methods=["GET"], response_class=Response, responses=ANSWER, name=name)
    return router
