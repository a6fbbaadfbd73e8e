"""GET /internal/stations/cursor and PUT /internal/stations, mounted by every service over its
station replica (shared/stations.py): the highest change it applied, and a batch of changes after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import rollup
from shared.principals import ServicePrincipalDep
from shared.contracts.stations.schemas import StationPush, StationsApplied, StationsCursor
from shared.db import transaction, write_session
from shared.errors import InvalidInput
from shared.scope import under
from shared.stations import replica_lock


def station_replica_router(station_model, path_tables: list[Table]) -> APIRouter:
    """`path_tables`: every table of the service with a station_path column to rewrite on moves."""
    router = APIRouter(prefix="/internal/stations", tags=["internal"], include_in_schema=False)

    @router.get("/cursor", response_model=StationsCursor)
    async def cursor(_: ServicePrincipalDep,
                     session: Annotated[AsyncSession, Depends(write_session, scope="function")]) -> StationsCursor:
        value = await session.scalar(select(func.coalesce(func.max(station_model.change_seq), 0)))
        return StationsCursor(change_seq=int(value))

    exclusive = f"SELECT pg_advisory_xact_lock({replica_lock(station_model)})"

    async def replica_session(request: Request) -> AsyncIterator[AsyncSession]:
        # Exclusive: waits for the writes in flight (write_guard) and holds new ones back until it
        # commits; two gateways (workers, replicas) pushing at once take turns too, so a move's path
        # rewrites never interleave with another push's.
        async with transaction(request, exclusive) as session:
            yield session

    # The session as a default, not Annotated: this module's annotations are strings, and a local
    # name in one cannot be resolved.
    @router.put("", response_model=StationsApplied)
    async def push(body: StationPush, _: ServicePrincipalDep,
                   session: AsyncSession = Depends(replica_session, scope="function")) -> StationsApplied:
        applied = 0
        for st in sorted(body.stations, key=lambda s: s.change_seq):
            if not st.path.endswith(f"/{st.id}/"):
                raise InvalidInput.field("stations.path", "A station's path must end with its id.")
            # A station new here is inserted as pushed unless another push got it in first (an upsert:
            # never a unique violation); either way what is stored is then compared and brought up to date.
            inserted = await session.execute(
                insert(station_model).values(**st.model_dump()).on_conflict_do_nothing(index_elements=["id"]))
            if inserted.rowcount:
                applied += 1
                continue
            existing = await session.get(station_model, st.id, with_for_update=True, populate_existing=True)
            if existing.change_seq >= st.change_seq:
                continue
            if existing.path != st.path:
                await _move_records(session, path_tables, existing.path, st.path)
                # A station's history moves with it: rewriting daily_stat's paths has taken the
                # subtree's totals from the old ancestors' rollup rows to the new ones (the trigger
                # of shared.rollup), in this transaction; the station's own rows now hang under its
                # new parent.
                for table in path_tables:
                    await rollup.station_moved(session, table, st.id, st.parent_id)
                # Free the old path first: the unique index would trip on swaps.
                existing.path = f"/moving/{st.id}/"
                await session.flush()
            for key, value in st.model_dump().items():
                setattr(existing, key, value)
            applied += 1
        return StationsApplied(applied=applied)

    return router


async def _move_records(session: AsyncSession, tables: list[Table], old: str, new: str) -> None:
    for table in tables:
        col = table.c.station_path
        await session.execute(
            update(table).where(under(col, old))
            .values(station_path=func.concat(new, func.substr(col, len(old) + 1)))
        )
