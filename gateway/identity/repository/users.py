"""Queries on gateway.user (always with the station it is bound to: scope is the station's path)."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Station, User
from shared.pagination import PageParams, keyset
from shared.scope import under


async def any_user(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is not None


async def with_station(session: AsyncSession, user_id: int) -> tuple[User, Station] | None:
    row = (await session.execute(select(User, Station).join(Station, Station.id == User.station_id)
                                 .where(User.id == user_id))).first()
    return tuple(row) if row else None


async def get_in_scope(session: AsyncSession, user_id: int, scope_path: str, *,
                       for_update: bool = False) -> tuple[User, Station] | None:
    stmt = (select(User, Station).join(Station, Station.id == User.station_id)
            .where(User.id == user_id, under(Station.path, scope_path)))
    if for_update:
        stmt = stmt.with_for_update(of=User)
    row = (await session.execute(stmt)).first()
    return tuple(row) if row else None


async def by_username(session: AsyncSession, username: str, *, for_update: bool = False) -> User | None:
    stmt = select(User).where(func.lower(User.username) == username.lower())
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def username_taken(session: AsyncSession, username: str) -> bool:
    return await session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None


async def insert(session: AsyncSession, **values: Any) -> User:
    user = User(**values)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    return user


async def apply(session: AsyncSession, user: User, values: dict[str, Any], *, bump: bool = True) -> User:
    """Change a locked user row; `bump` marks a change a reader's ETag must notice."""
    for key, value in values.items():
        setattr(user, key, value)
    if bump:
        user.version += 1
        user.updated_at = datetime.now(UTC)
    await session.flush()
    return user


async def count_failed_login(session: AsyncSession, user_id: int) -> None:
    await session.execute(update(User).where(User.id == user_id).values(failed_logins=User.failed_logins + 1)
                          .execution_options(synchronize_session=False))


async def list_page(session: AsyncSession, scope_path: str, params: PageParams, *, role: str | None,
                    station_id: int | None) -> Seq[User]:
    stmt = (select(User).join(Station, Station.id == User.station_id)
            .where(under(Station.path, scope_path)))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if station_id is not None:
        stmt = stmt.where(User.station_id == station_id)
    stmt = keyset(stmt, params, [User.id], descending=False)
    return (await session.scalars(stmt)).all()
