"""The sync contract's service half: the routes the gateway's sync client calls
(shared.contracts.sync.client), answered over the tables a service describes (shared.sync)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from shared.principals import ServicePrincipalDep
from shared.contracts.sync.schemas import PullQuery, PushBody, PushProvides, SyncedTable, SyncSchema
from shared.db import write_session
from shared.sync import SyncContext, SyncTable, apply, check, pushing_device, provided, pull_lines


def internal_sync_router(tables: list[SyncTable], departures=None) -> APIRouter:
    """`departures`: the service's shared.departures model, if its records can leave a subtree."""
    router = APIRouter(prefix="/internal/sync", tags=["internal"], include_in_schema=False)
    by_name = {t.name: t for t in tables}

    @router.get("/schema")
    async def schema(_: ServicePrincipalDep) -> dict:
        return SyncSchema(tables=[SyncedTable(**t.describe(), since=t.since,
                                              columns_since={c.name: c.since for c in t.columns})
                                  for t in tables]).model_dump()

    @router.post("/pull")
    async def pull(query: PullQuery, request: Request, _: ServicePrincipalDep) -> StreamingResponse:
        state = request.app.state
        # On the standby when the service has one (shared/standby.py: the cut holds there too).
        return StreamingResponse(pull_lines(state.figures.engine, tables, query, vault=state.vault,
                                            departures=departures),
                                 media_type="application/x-ndjson")

    @router.post("/push", status_code=204, responses={200: {"description": "A dry run passed: what it provides"}})
    async def push(body: PushBody, request: Request, _: ServicePrincipalDep,
                   session: Annotated[AsyncSession, Depends(write_session, scope="function")]) -> Response:
        vault = request.app.state.vault
        checked = await check(session, by_name, body, vault)
        principal = pushing_device(body)
        session.info["principal"] = principal  # the audit log names the device, not the gateway
        await apply(session, SyncContext(principal, request, body.provisional, body.pushed, vault), checked)
        if not body.check_only:
            return Response(status_code=204)
        # A dry run of the whole push (rules, scope, conflicts), then nothing kept: the gateway
        # writes to any service only when every service's dry run passed. What the push would
        # create here is told, so a later service's dry run can rely on it (attendance of a new person).
        provides = await provided(session, checked)
        await session.rollback()
        return JSONResponse(PushProvides(provides=provides).model_dump())

    return router
