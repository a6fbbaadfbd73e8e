"""Queries on gateway.station."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, case, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import AuditLog, Station, User, station_change_seq
from shared.audit.listener import log_write
from shared.pagination import PageParams, keyset
from shared.scope import under

# Every station write takes this transaction-level advisory lock before anything else.
# Station writes are rare (a tree of a few thousand nodes), and serializing them buys two
# things: change_seq numbers are drawn in commit order, so a service's "highest applied"
# cursor never skips a late commit; and structure checks (no cycle on move, no child
# added under a station being moved or deleted) read a tree nobody else is changing.
TREE_LOCK_KEY = 0x4841_4F4C_5452_4545  # "HAOLTREE"


async def lock_tree(session: AsyncSession) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(TREE_LOCK_KEY)))


async def announce_change(session: AsyncSession, channel: str) -> None:
    """Tell every gateway process listening on `channel` (the station pusher's leader) that stations changed."""
    await session.execute(select(func.pg_notify(channel, "")))


def _live():
    return Station.deleted_at.is_(None)


def sibling_order() -> list:
    """How siblings are listed everywhere (API, tree, drill-down, reports, CLI): by division code,
    then by name, stations without a code after the coded ones; the id breaks the last tie.
    Names compare in code-point order ("C"), the same on any server whatever its collation."""
    return [case((Station.code.is_(None), 1), else_=0), func.coalesce(Station.code, ""), Station.name.collate("C"),
            Station.id]


def sibling_key(station: Station) -> list:
    """The values of sibling_order() for one station (a page's cursor)."""
    return [int(station.code is None), station.code or "", station.name, station.id]


def _tree_segment(station) -> Any:
    """One level of a station's tree-order key: the text order of the concatenated levels is the
    order of (code, name, id) level by level, since each part has a fixed width or ends in \\x01,
    which sorts below every character a name or code holds; a parent's key is a prefix of its
    children's, so it comes first."""
    code = func.coalesce(literal("0") + func.rpad(station.code, 12, "\x01"), literal("1" + "\x01" * 12))
    ident = func.lpad(cast(station.id, String), 19, "0")
    return code + station.name + literal("\x01") + ident


def _tree(root: Station, max_depth: int | None):
    """The live subtree of `root` as (id, depth, key), `key` ordering it parents first and
    siblings by sibling_order(). Built per request: a province is a few thousand rows."""
    top = (select(Station.id.label("id"), literal(0).label("depth"), _tree_segment(Station).label("key"))
           .where(Station.id == root.id).cte("tree", recursive=True))
    child = Station.__table__.alias("child")
    step = (select(child.c.id, top.c.depth + 1, top.c.key + _tree_segment(child.c))
            .join_from(child, top, child.c.parent_id == top.c.id).where(child.c.deleted_at.is_(None)))
    if max_depth is not None:
        step = step.where(top.c.depth < max_depth)
    return top.union_all(step)


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
                                 under(Station.path, scope_path))
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
               .where(under(Station.path, old)).order_by(Station.path).subquery())
    await session.execute(
        update(Station).where(Station.id == ordered.c.sid).values(
            path=func.concat(literal(new), func.substr(Station.path, len(old) + 1)),
            change_seq=ordered.c.seq, version=Station.version + 1, updated_at=func.now(),
        ).execution_options(synchronize_session=False)
    )
    await session.execute(update(Station).where(Station.id == station.id).values(parent_id=new_parent.id)
                          .execution_options(synchronize_session=False))
    # Access tokens carry the old path of everyone at and below the station: end them (a refresh gets the new one).
    moved = select(Station.id).where(under(Station.path, new))
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
    stmt = keyset(stmt, params, sibling_order(), descending=False)
    return (await session.scalars(stmt)).all()


async def subtree_page(session: AsyncSession, root: Station, params: PageParams,
                       max_depth: int | None) -> Seq[tuple[Station, int, str]]:
    """A page of the subtree in tree order: (station, depth, tree-order key for the cursor)."""
    tree = _tree(root, max_depth)
    stmt = select(Station, tree.c.depth, tree.c.key).join(tree, tree.c.id == Station.id)
    stmt = keyset(stmt, params, [tree.c.key.collate("C")], descending=False)
    return [tuple(row) for row in await session.execute(stmt)]


async def subtree(session: AsyncSession, root: Station, max_depth: int | None = None) -> Seq[tuple[Station, int]]:
    """The whole live subtree in tree order, with depths (the CLI prints it)."""
    tree = _tree(root, max_depth)
    stmt = select(Station, tree.c.depth).join(tree, tree.c.id == Station.id).order_by(tree.c.key.collate("C"))
    return [tuple(row) for row in await session.execute(stmt)]


async def changed_after(session: AsyncSession, change_seq: int, limit: int) -> Seq[Station]:
    """Replication feed: live and deleted stations alike, in change order."""
    stmt = select(Station).where(Station.change_seq > change_seq).order_by(Station.change_seq).limit(limit)
    return (await session.scalars(stmt)).all()


async def live_children(session: AsyncSession, parent_id: int) -> Seq[Station]:
    """All of a station's live children (a village-level fan-out is at most a few hundred)."""
    stmt = select(Station).where(Station.parent_id == parent_id, _live()).order_by(*sibling_order())
    return (await session.scalars(stmt)).all()


async def deleted_children(session: AsyncSession, parent_id: int) -> Seq[Station]:
    """A station's deleted children: their records still count in the parent's subtree."""
    stmt = (select(Station).where(Station.parent_id == parent_id, Station.deleted_at.is_not(None))
            .order_by(Station.name, Station.id))
    return (await session.scalars(stmt)).all()
