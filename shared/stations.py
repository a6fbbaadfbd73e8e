"""Each service's read-only replica of the gateway's station tree.

Records carry `station_id` and the materialized `station_path` so scope filters are
one prefix comparison. The gateway owns the tree and pushes every change (with its
change sequence number) to each service's internal endpoint; a service uses its
replica to resolve a record's station_id to a path, to group counts by child station,
and, when a station moves, to rewrite the paths of its records in the same
transaction. Pushes are idempotent and ordered by change_seq, so the gateway can
simply re-push from the service's cursor after any failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, DateTime, String, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import Principal, PrincipalDep, ServicePrincipalDep
from shared.db import read_session, write_session
from shared.errors import InvalidInput, NotFound
from shared.models import PathType
from shared.schemas import RowId


class StationReplica(BaseModel):
    id: int
    parent_id: int | None = None
    path: str = Field(pattern=r"^/(\d+/)+$")
    kind: str
    name: str
    deleted_at: datetime | None = None
    change_seq: int


class StationPush(BaseModel):
    stations: list[StationReplica]


def station_replica_model(base: type[DeclarativeBase]):
    class Station(base):
        __tablename__ = "station"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
        parent_id: Mapped[int | None] = mapped_column(BigInteger)
        path: Mapped[str] = mapped_column(PathType, unique=True)
        kind: Mapped[str] = mapped_column(String(16))
        name: Mapped[str] = mapped_column(String(200))
        deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        change_seq: Mapped[int] = mapped_column(BigInteger)

    return Station


async def scoped_path(session: AsyncSession, station_model, principal: Principal, station_id: int | None) -> str | None:
    """The path of the caller's own station (station_id None) or of any live station of their
    subtree; None for an unknown id and for one outside the subtree alike."""
    if station_id is None or station_id == principal.station_id:
        return principal.station_path
    path = await session.scalar(
        select(station_model.path).where(station_model.id == station_id, station_model.deleted_at.is_(None))
    )
    return path if path is not None and principal.in_scope(path) else None


async def resolve_station(session: AsyncSession, station_model, principal: Principal, station_id: int | None,
                          field: str = "station_id") -> tuple[int, str]:
    """The (id, path) a new record is filed under: the caller's own station by default,
    or any live station of their subtree. Unknown and out-of-scope ids read the same."""
    path = await scoped_path(session, station_model, principal, station_id)
    if path is None:
        raise InvalidInput.field(field, "No such station in your scope.", "unknown_station")
    return (principal.station_id if station_id is None else station_id), path


async def station_to_read(session: AsyncSession, station_model, principal: Principal, station_id: int | None) -> str:
    """The path of the station whose figures are read: a station outside the caller's subtree
    answers 404, exactly as one that does not exist (ARCHITECTURE.md "Identity and scope")."""
    path = await scoped_path(session, station_model, principal, station_id)
    if path is None:
        raise NotFound("No such station in your scope.")
    return path


def subtree_dependency(station_model):
    """A list's `station_id` query parameter as the station path it narrows the list to;
    the station must lie in the caller's scope (unknown and out-of-scope read the same)."""

    async def subtree_filter(principal: PrincipalDep, session: Annotated[AsyncSession, Depends(read_session)],
                             station_id: Annotated[RowId | None,
                                                   Query(description="Limit to this station's subtree")] = None,
                             ) -> str | None:
        if station_id is None:
            return None
        return (await resolve_station(session, station_model, principal, station_id))[1]

    return subtree_filter


def station_replica_router(station_model, path_tables: list[Table]) -> APIRouter:
    """`path_tables`: every table of the service with a station_path column to rewrite on moves."""
    router = APIRouter(prefix="/internal/stations", tags=["internal"], include_in_schema=False)

    @router.get("/cursor")
    async def cursor(_: ServicePrincipalDep, session: Annotated[AsyncSession, Depends(write_session, scope="function")]) -> dict:
        value = await session.scalar(select(func.coalesce(func.max(station_model.change_seq), 0)))
        return {"change_seq": int(value)}

    @router.put("")
    async def push(body: StationPush, _: ServicePrincipalDep,
                   session: Annotated[AsyncSession, Depends(write_session, scope="function")]) -> dict:
        # Two gateways (workers, replicas) may push the same changes at once: one push at a time per
        # service, so a move's path rewrites never interleave with another push's.
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(
            station_model.__table__.fullname, 0))))
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
                # Free the old path first: the unique index would trip on swaps.
                existing.path = f"/moving/{st.id}/"
                await session.flush()
            for key, value in st.model_dump().items():
                setattr(existing, key, value)
            applied += 1
        return {"applied": applied}

    return router


async def _move_records(session: AsyncSession, tables: list[Table], old: str, new: str) -> None:
    for table in tables:
        col = table.c.station_path
        await session.execute(
            update(table).where(col.startswith(old, autoescape=False))
            .values(station_path=func.concat(new, func.substr(col, len(old) + 1)))
        )
