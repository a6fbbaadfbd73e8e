"""Queries on gateway.station."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import AuditLog, Station, User, station_change_seq
from shared.audit import log_write
from shared.pagination import PageParams, keyset

# Every station write takes this transaction-level advisory lock before anything else.
# Station writes are rare (a tree of a few thousand nodes), and serializing them buys two
# things: change_seq numbers are drawn in commit order, so a service's "highest applied"
# cursor never skips a late commit; and structure checks (no cycle on move, no child
# added under a station being moved or deleted) read a tree nobody else is changing.
TREE_LOCK_KEY = 0x4841_4F4C_5452_4545  # "HAOLTREE"


async def lock_tree(session: AsyncSession) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(TREE_LOCK_KEY)))


def _live():
    return Station.deleted_at.is_(None)


def depth_of(path_column, base_path: str):
    """Levels below `base_path`: counts the slashes of the path."""
    slashes = func.length(path_column) - func.length(func.replace(path_column, "/", ""))
    return slashes - base_path.count("/")


async def get_live(session: AsyncSession, station_id: int, *, for_update: bool = False,
                   for_share: bool = False) -> Station | None:
    stmt = select(Station).where(Station.id == station_id, _live())
    if for_update:
        stmt = stmt.with_for_update()
    elif for_share:
        stmt = stmt.with_for_update(read=True)
    return await session.scalar(stmt)


async def get_in_scope(session: AsyncSession, station_id: int, scope_path: str, *,
                       for_update: bool = False) -> Station | None:
    stmt = select(Station).where(Station.id == station_id, _live(),
                                 Station.path.startswith(scope_path, autoescape=False))
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def first_root(session: AsyncSession) -> Station | None:
    return await session.scalar(select(Station).where(Station.parent_id.is_(None), _live())
                                .order_by(Station.id).limit(1))


async def sibling_named(session: AsyncSession, parent_id: int | None, name: str,
                        exclude_id: int | None = None) -> bool:
    stmt = select(Station.id).where(Station.name == name, _live())
    stmt = stmt.where(Station.parent_id.is_(None) if parent_id is None else Station.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Station.id != exclude_id)
    return await session.scalar(stmt.limit(1)) is not None


async def insert(session: AsyncSession, *, parent: Station | None, kind: str, name: str,
                 code: str | None) -> Station:
    # The id is drawn first because the path ends with it.
    new_id = await session.scalar(select(func.nextval(func.pg_get_serial_sequence("gateway.station", "id"))))
    path = f"{parent.path if parent else '/'}{new_id}/"
    seq = await session.scalar(select(station_change_seq.next_value()))
    station = Station(id=new_id, parent_id=parent.id if parent else None, path=path, kind=kind, name=name,
                      code=code, change_seq=seq)
    session.add(station)
    await session.flush()
    await session.refresh(station)
    return station


async def apply(session: AsyncSession, station: Station, values: dict[str, Any]) -> Station:
    """Change a locked station's own columns; bumps version and change_seq."""
    for key, value in values.items():
        setattr(station, key, value)
    station.version += 1
    station.updated_at = datetime.now(UTC)
    station.change_seq = await session.scalar(select(station_change_seq.next_value()))
    await session.flush()
    return station


async def move_subtree(session: AsyncSession, station: Station, new_parent: Station) -> None:
    """Re-root the subtree of `station` under `new_parent`: one UPDATE for every path."""
    old = station.path
    new = f"{new_parent.path}{station.id}/"
    # Numbered in path order so a service applying a batch meets parents before children.
    ordered = (select(Station.id.label("sid"), station_change_seq.next_value().label("seq"))
               .where(Station.path.startswith(old, autoescape=False)).order_by(Station.path).subquery())
    await session.execute(
        update(Station).where(Station.id == ordered.c.sid).values(
            path=func.concat(literal(new), func.substr(Station.path, len(old) + 1)),
            change_seq=ordered.c.seq, version=Station.version + 1, updated_at=func.now(),
        ).execution_options(synchronize_session=False)
    )
    await session.execute(update(Station).where(Station.id == station.id).values(parent_id=new_parent.id)
                          .execution_options(synchronize_session=False))
    # Access tokens carry the old path of everyone at and below the station: end them (a refresh gets the new one).
    moved = select(Station.id).where(Station.path.startswith(new, autoescape=False))
    await session.execute(update(User).where(User.station_id.in_(moved))
                          .values(token_generation=User.token_generation + 1)
                          .execution_options(synchronize_session=False))
    await session.refresh(station)
    # Core UPDATEs, unseen by the audit log's ORM listener: one row for the move (the subtree goes with it).
    log_write(session, AuditLog, "move", Station.__tablename__, str(station.id), station.path)


async def has_live_children(session: AsyncSession, station_id: int) -> bool:
    return await session.scalar(select(Station.id).where(Station.parent_id == station_id, _live()).limit(1)) \
        is not None


async def has_users(session: AsyncSession, station_id: int) -> bool:
    return await session.scalar(select(User.id).where(User.station_id == station_id).limit(1)) is not None


async def children_page(session: AsyncSession, parent_id: int, params: PageParams) -> Seq[Station]:
    stmt = select(Station).where(Station.parent_id == parent_id, _live())
    stmt = keyset(stmt, params, [Station.name, Station.id], descending=False)
    return (await session.scalars(stmt)).all()


async def subtree_page(session: AsyncSession, root: Station, params: PageParams,
                       max_depth: int | None) -> Seq[tuple[Station, int]]:
    depth = depth_of(Station.path, root.path).label("depth")
    stmt = select(Station, depth).where(Station.path.startswith(root.path, autoescape=False), _live())
    if max_depth is not None:
        stmt = stmt.where(depth_of(Station.path, root.path) <= max_depth)
    stmt = keyset(stmt, params, [Station.path], descending=False)
    return [tuple(row) for row in await session.execute(stmt)]


async def changed_after(session: AsyncSession, change_seq: int, limit: int) -> Seq[Station]:
    """Replication feed: live and deleted stations alike, in change order."""
    stmt = select(Station).where(Station.change_seq > change_seq).order_by(Station.change_seq).limit(limit)
    return (await session.scalars(stmt)).all()


async def live_children(session: AsyncSession, parent_id: int) -> Seq[Station]:
    """All of a station's live children (a village-level fan-out is at most a few hundred)."""
    stmt = select(Station).where(Station.parent_id == parent_id, _live()).order_by(Station.name, Station.id)
    return (await session.scalars(stmt)).all()
