"""POST /internal/stats, the counting contract the gateway fans out to (service token only),
the same in every service: each passes its own `answer(session, StatsQuery)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.principals import ServicePrincipalDep
from shared.contracts.stats.schemas import StatsAnswer, StatsQuery
from shared.distinct_sets import keep_sessions
from shared.standby import FigureReadDep

# A service's answer: the rows of a StatsAnswer, as plain dicts (shared.rollup.answer); its third
# argument is where the distinct sets it builds are kept (shared.distinct_sets.keep_sessions).
Answer = Callable[[AsyncSession, StatsQuery, async_sessionmaker[AsyncSession] | None], Awaitable[list[dict]]]
ANSWER = {200: {"model": StatsAnswer, "description": "Rows of {metric, population?, period?, station?, value}"}}


def answered(rows: list[dict], as_of: datetime) -> Response:
    # Written as it is: validating up to MAX_ROWS rows against StatsAnswer again would cost seconds.
    return Response(orjson.dumps({"rows": rows, "as_of": as_of}), media_type="application/json")


def internal_stats_router(answer: Answer) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/stats", response_class=Response, responses=ANSWER)
    async def stats(query: StatsQuery, _: ServicePrincipalDep, read: FigureReadDep, request: Request) -> Response:
        """The counting contract (ARCHITECTURE.md): rows read from the daily rollup (on the standby, if any)."""
        return answered(await answer(read.session, query, keep_sessions(request)), read.as_of)

    return router
