"""Queries every record table shares: scoped lookups, pages, inserts that may collide.

A record table here is one with the columns of shared.models.RecordMixin (`id`, `station_path`,
`deleted_at`...); the functions take the mapped class, so no table lives in shared/.
"""

from collections.abc import Callable
from typing import TypeVar

import orjson
from sqlalchemy import JSON, ColumnElement, Select, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import sealed_columns
from shared.pagination import PageParams, keyset
from shared.principals import Principal
from shared.scope import live_in, live_under, under

M = TypeVar("M")


class UniqueViolation(Exception):
    def __init__(self, constraint: str | None) -> None:
        super().__init__(constraint)
        self.constraint = constraint


def live(model, principal: Principal) -> Select:
    """Live rows of `model` inside the principal's subtree: the base of every scoped read."""
    return select(model).where(live_in(model, principal))


def narrowed(stmt: Select, model, *, station_path: str | None = None, equal: dict | None = None,
             holding: dict | None = None, span: tuple | None = None) -> Select:
    """A list query narrowed by the filters the caller set (an unset one, None or empty, narrows nothing):
    the subtree of `station_path`, columns equal to a value, array columns holding one, and `span`
    (column, from, to): a date column within the bounds that are set."""
    if station_path:
        stmt = stmt.where(under(model.station_path, station_path))
    for column, value in (equal or {}).items():
        if value:
            stmt = stmt.where(getattr(model, column) == value)
    for column, value in (holding or {}).items():
        if value:
            stmt = stmt.where(getattr(model, column).contains([value]))
    if span:
        column, from_on, to_on = span
        if from_on:
            stmt = stmt.where(getattr(model, column) >= from_on)
        if to_on:
            stmt = stmt.where(getattr(model, column) <= to_on)
    return stmt


def live_or_own(model, principal: Principal, owner_column: str, owner_id: str | None) -> Select:
    """Live rows of the principal's subtree, or, given `owner_id`, the live rows whose `owner_column`
    holds it wherever they are (a person reading their own records)."""
    if owner_id is None:
        return live(model, principal)
    return select(model).where(model.deleted_at.is_(None), getattr(model, owner_column) == owner_id)


async def live_count_under(session: AsyncSession, table: Table, station_path: str) -> int:
    """Live rows of a record table anywhere in the subtree of `station_path`."""
    return int(await session.scalar(select(func.count()).select_from(table).where(live_under(table, station_path))))


async def get_live(session: AsyncSession, model: type[M], record_id: str, principal: Principal, *,
                   for_update: bool = False, where: tuple[ColumnElement[bool], ...] = ()) -> M | None:
    stmt = live(model, principal).where(model.id == record_id, *where)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_any(session: AsyncSession, model: type[M], record_id: str) -> M | None:
    """Any row with this id, deleted or out of scope: only to decide whether a client id is free.

    Holds the id until the transaction ends, also while no row has it yet: a retry racing its
    original waits here for the original to commit, then finds its row (instead of both finding
    the id free and the second failing on the primary key)."""
    key = f"{model.__table__.fullname}:{record_id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    return await session.scalar(select(model).where(model.id == record_id).with_for_update())


# get_any's advisory locks for many ids at once, in key order (two writers naming the same ids lock
# them in the same order). Ids as `IN (SELECT unnest(...))`, not `= ANY(...)`: PostgreSQL 18 plans the
# latter, for many ids not stored yet, as a skip scan of the (change_xid, id) index (shared.sync._id_in).
_LOCK_IDS = ("SELECT count(pg_advisory_xact_lock(hashtextextended($1 || k, 0))) "
             "FROM (SELECT k FROM unnest($2::text[]) AS k ORDER BY k OFFSET 0) AS ids")


async def claim_ids(conn, table: Table, ids: list[str], columns: str = "id") -> dict:
    """`get_any` for many client ids on a lean write path's asyncpg connection (shared.db.raw_connection):
    the same locks, held until the transaction ends, then the rows (`columns` of them, locked) that have
    the ids already, by id."""
    unique = sorted(set(ids))
    if not unique:
        return {}
    await conn.fetchval(_LOCK_IDS, f"{table.fullname}:", unique)
    found = await conn.fetch(f'SELECT {columns} FROM "{table.schema}"."{table.name}" '
                             "WHERE id IN (SELECT unnest($1::text[])) FOR UPDATE", unique)
    return {r["id"]: r for r in found}


def insert_params(table: Table, columns: tuple[str, ...]) -> Callable[[dict], tuple]:
    """values -> the parameters of a lean path's raw INSERT of `columns` into `table` (a create's values by
    column name), bound as the ORM binds them: sealed columns (shared.crypto.Sealed) encrypted by their
    type, JSON ones as JSON text (the engine's asyncpg codec takes text), None as SQL NULL."""
    bind = {name: (lambda v, t=type_: t.process_bind_param(v, None))
            for name, type_ in sealed_columns(table).items() if name in columns}
    bind.update({c.name: (lambda v: orjson.dumps(v).decode()) for c in table.columns
                 if c.name in columns and isinstance(c.type, JSON)})
    return lambda values: tuple(bind[n](values[n]) if n in bind and values[n] is not None else values[n]
                                for n in columns)


async def by_id(session: AsyncSession, model: type[M], record_id: str) -> M | None:
    return await session.get(model, record_id)


async def page(session: AsyncSession, stmt: Select, params: PageParams, order: list) -> list:
    return list((await session.scalars(keyset(stmt, params, order))).all())


async def save(session: AsyncSession, record) -> None:
    """Add and flush inside a savepoint so a unique violation leaves the transaction usable."""
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError as exc:
        cause = getattr(exc.orig, "__cause__", None)
        raise UniqueViolation(getattr(cause, "constraint_name", None)) from None


async def live_ids(session: AsyncSession, model, principal: Principal, ids: list[str]) -> list[tuple[str, int]]:
    """(id, station_id) of the live rows among `ids` in the principal's subtree: what a lookup answers."""
    if not ids:
        return []
    stmt = select(model.id, model.station_id).where(model.id.in_(ids), live_in(model, principal))
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
