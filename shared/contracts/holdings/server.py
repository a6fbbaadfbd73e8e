"""POST /internal/holdings, mounted by every service with its record tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.holdings.schemas import Holdings, HoldingsQuery
from shared.db import read_session
from shared.principals import ServicePrincipalDep
from shared.repository import live_count_under

# (session, station path) -> {kind of open work: how many}
OpenWork = Callable[[AsyncSession, str], Awaitable[dict[str, int]]]


def holdings_router(record_tables: Sequence[Table], open_work: OpenWork | None = None) -> APIRouter:
    """`record_tables`: every record table of the service (a station holding any live row keeps it);
    `open_work`: the service's reader of work still going on there."""
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/holdings", response_model=Holdings)
    async def holdings(query: HoldingsQuery, _: ServicePrincipalDep,
                       session: Annotated[AsyncSession, Depends(read_session)]) -> Holdings:
        """Live records per kind and open work in a station's subtree, for the gateway's station delete."""
        records = {}
        for table in record_tables:
            count = await live_count_under(session, table, query.station_path)
            if count:
                records[table.name] = count
        work = await open_work(session, query.station_path) if open_work is not None else {}
        return Holdings(records=records, open_work={k: v for k, v in work.items() if v})

    return router
