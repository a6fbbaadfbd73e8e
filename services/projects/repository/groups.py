"""Group and session queries (their attendance: repository/attendance.py)."""

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Group, GroupSession
from shared.principals import Principal
from shared.repository import live, narrowed


def list_query(principal: Principal, *, station_path: str | None, project_id: str | None, stage: str | None,
               member_id: str | None):
    return narrowed(live(Group, principal), Group, station_path=station_path,
                    equal={"project_id": project_id, "stage": stage}, holding={"members": member_id})


def sessions_query(principal: Principal, group_id: str, from_on: date | None, to_on: date | None):
    return narrowed(live(GroupSession, principal).where(GroupSession.group_id == group_id), GroupSession,
                    span=("held_on", from_on, to_on))


async def live_sessions(session: AsyncSession, group_id: str) -> list[GroupSession]:
    stmt = (select(GroupSession).where(GroupSession.group_id == group_id, GroupSession.deleted_at.is_(None))
            .with_for_update())
    return list((await session.scalars(stmt)).all())


async def sessions_outside(session: AsyncSession, project_id: str, starts_on: date, ends_on: date) -> bool:
    """Whether any live session or activity of the project lies outside [starts_on, ends_on]."""
    for model in (GroupSession, Activity):
        found = await session.scalar(select(model.id).where(
            model.project_id == project_id, model.deleted_at.is_(None),
            (model.held_on < starts_on) | (model.held_on > ends_on)).limit(1))
        if found is not None:
            return True
    return False


async def tombstone_sessions(session: AsyncSession, group_id: str, user_id: str) -> None:
    await session.execute(
        update(GroupSession).where(GroupSession.group_id == group_id, GroupSession.deleted_at.is_(None))
        .values(deleted_at=func.now(), updated_by=user_id, version=GroupSession.version + 1))
