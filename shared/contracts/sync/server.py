"""The sync contract's service half: the routes the gateway's sync client calls
(shared.contracts.sync.client), answered over the tables a service describes (shared.sync)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from shared import prepared
from shared.principals import ServicePrincipalDep
from shared.contracts.sync.schemas import (PreparedOutcome, PullQuery, PushBody, PushProvides, SyncedTable,
                                           SyncSchema)
from shared.db import write_session
from shared.streaming import ClosingStreamingResponse
from shared.sync import SyncContext, SyncTable, apply, check, pushing_device, provided, pull_lines


def internal_sync_router(tables: list[SyncTable], departures=None) -> APIRouter:
    """`departures`: the service's shared.departures model, if its records can leave a subtree."""
    router = APIRouter(prefix="/internal/sync", tags=["internal"], include_in_schema=False)
    by_name = {t.name: t for t in tables}

    @router.get("/schema")
    async def schema(request: Request, _: ServicePrincipalDep) -> dict:
        async with request.app.state.db.read_pool.acquire() as conn:
            two_phase = await prepared.enabled(conn)
        return SyncSchema(tables=[SyncedTable(**t.describe(), since=t.since,
                                              columns_since={c.name: c.since for c in t.columns})
                                  for t in tables], two_phase=two_phase).model_dump()

    @router.post("/pull")
    async def pull(query: PullQuery, request: Request, _: ServicePrincipalDep) -> ClosingStreamingResponse:
        state = request.app.state
        # On the standby when the service has one (shared/standby.py: the cut holds there too).
        return ClosingStreamingResponse(pull_lines(state.figures.engine, tables, query, vault=state.vault,
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
        if not body.check_only and body.prepare is None:
            return Response(status_code=204)
        # What the push creates here is told, so a later service can rely on it (attendance of a new
        # person). A dry run (rules, scope, conflicts) then keeps nothing: the gateway writes to any
        # service only when every service's dry run passed. A prepared part is kept, unseen, until
        # the gateway commits or rolls it back (shared.prepared).
        provides = await provided(session, checked)
        if body.check_only:
            await session.rollback()
        else:
            await prepared.prepare(session, body.prepare)
        return JSONResponse(PushProvides(provides=provides).model_dump())

    @router.post("/prepared", status_code=204, responses={404: {"description": "No such part"}})
    async def finish(outcome: PreparedOutcome, request: Request, _: ServicePrincipalDep) -> Response:
        """End a push's prepared part: commit it once every later service has written its own, roll
        it back when one refused. 404: there is none of that name (ended already, or swept)."""
        async with request.app.state.db.read_pool.acquire() as conn:  # the primary's, outside a transaction
            found = await prepared.finish(conn, outcome.name, commit=outcome.commit)
        return Response(status_code=204 if found else 404)

    return router
