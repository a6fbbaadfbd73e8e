"""Each service's read-only replica of the gateway's station tree.

Records carry `station_id` and the materialized `station_path` so scope filters are
one prefix comparison. The gateway owns the tree and pushes every change (with its
change sequence number) to each service (shared.contracts.stations); a service uses its
replica to resolve a record's station_id to a path, to group counts by child station,
and, when a station moves, to rewrite the paths of its records in the same
transaction. Pushes are idempotent and ordered by change_seq, so the gateway can
simply re-push from the service's cursor after any failure.

Where paths come from. A record's station path, and so its rollup rows', is always read from
the replica by station id (`resolve_station`), never taken from the caller's token: a token is
a copy of the tree from when it was issued. Every request's write transaction starts with a
shared lock on the replica (`write_guard`), which a push takes exclusively, so a write either
finishes before a move is applied (and the push rewrites its rows with the rest) or starts after
it (and reads the new path); none can file a row under a path the push already rewrote. Rollup
upserts never change a row's path: only a push does.

What a caller may see is the subtree of the path in their token. The gateway refuses any token
issued before a change to its account, a move of its station or of one above it included
(gateway/identity/live.py), so a token that reaches a service carries the tree as the gateway
has it now. The replica follows within moments: the gateway pushes a change as soon as it is
committed, and again every GATEWAY_STATION_PUSH_INTERVAL_S (5 s) until the service has it.
Until then, after a move, the moved station's users (on their new tokens) do not see its records,
which still carry the old path, and the old parent's users still do; records written meanwhile
are filed under the old path and moved with the rest. docs/security.md says so for operators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import read_session
from shared.errors import AppError, InvalidInput, NotFound
from shared.models import PathType
from shared.principals import Principal, PrincipalDep
from shared.schemas import RowId
from shared.scope import path_under


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


class StationNotReplicated(AppError):
    status_code, title, type = 503, "Service unavailable", "station-not-replicated"

    def __init__(self) -> None:
        super().__init__("Your station has not reached this service yet; try again in a few seconds.",
                         headers={"Retry-After": "2"})


async def resolve_station(session: AsyncSession, station_model, principal: Principal, station_id: int | None,
                          field: str = "station_id") -> tuple[int, str]:
    """The (id, path) a new record is filed under, as this service's replica has the tree (never
    the token's path): the caller's own station by default, or any live station of the caller's
    subtree. Unknown and out-of-scope ids read the same."""
    found = await _in_scope(session, station_model, principal, station_id)
    if found is None:
        raise InvalidInput.field(field, "No such station in your scope.", "unknown_station")
    return found


async def station_to_read(session: AsyncSession, station_model, principal: Principal, station_id: int | None) -> str:
    """The path of the station whose figures are read: a station outside the caller's subtree
    answers 404, exactly as one that does not exist (ARCHITECTURE.md "Identity and scope")."""
    found = await _in_scope(session, station_model, principal, station_id)
    if found is None:
        raise NotFound("No such station in your scope.")
    return found[1]


async def _in_scope(session: AsyncSession, station_model, principal: Principal,
                    station_id: int | None) -> tuple[int, str] | None:
    """The caller's own station (station_id None) or a live station of their subtree, as this
    service's replica has them; None for an unknown id and for one outside the subtree alike."""
    wanted = principal.station_id if station_id is None else station_id
    rows = {r.id: r for r in (await session.execute(
        select(station_model.id, station_model.path, station_model.deleted_at)
        .where(station_model.id.in_({principal.station_id, wanted})))).all()}
    own = rows.get(principal.station_id)
    if own is None:
        # A station just created: the gateway pushes it within moments.
        raise StationNotReplicated()
    found = rows.get(wanted)
    if found is None or found.deleted_at is not None or not path_under(found.path, own.path):
        return None
    return found.id, found.path


def write_guard(station_model) -> str:
    """The first statement of a service's every write transaction (shared.db.Database.write_guard)."""
    return f"SELECT pg_advisory_xact_lock_shared({replica_lock(station_model)})"


def replica_lock(station_model) -> str:
    """The advisory lock a push of the tree takes exclusively and every write shared."""
    # One key per schema: services sharing a database do not wait on each other's moves.
    return f"hashtext('haolin.station_replica.{station_model.__table__.schema}')"


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
