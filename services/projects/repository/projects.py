"""Project, evaluation and project-progress queries."""

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Evaluation, Group, GroupSession, Project, Station
from services.projects.repository.common import visible_projects
from shared.principals import Principal
from shared.repository import live, narrowed


def list_query(principal: Principal, *, station_path: str | None, status: str | None, active_on: date | None,
               q: str | None):
    stmt = narrowed(visible_projects(principal), Project, station_path=station_path, equal={"status": status})
    if active_on:
        stmt = stmt.where(Project.starts_on <= active_on, Project.ends_on >= active_on)
    if q:
        stmt = stmt.where(Project.name.contains(q, autoescape=True))
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, project_id: str) -> Project | None:
    return await session.scalar(visible_projects(principal).where(Project.id == project_id))


async def visible_by_ids(session: AsyncSession, principal: Principal, ids: list[str]) -> list[Project]:
    return list((await session.scalars(visible_projects(principal).where(Project.id.in_(ids)))).all())


async def station_paths(session: AsyncSession, station_ids: set[int]) -> dict[int, str]:
    """The live stations' paths in this service's replica, by id."""
    if not station_ids:
        return {}
    stmt = select(Station.id, Station.path).where(Station.id.in_(station_ids), Station.deleted_at.is_(None))
    return {i: p for i, p in (await session.execute(stmt)).all()}


async def has_live_work(session: AsyncSession, project_id: str) -> bool:
    for model in (Group, Activity):
        found = await session.scalar(select(model.id).where(model.project_id == project_id,
                                                            model.deleted_at.is_(None)).limit(1))
        if found is not None:
            return True
    return False


def evaluations_query(principal: Principal, project_id: str):
    return live(Evaluation, principal).where(Evaluation.project_id == project_id)


async def group_figures(session: AsyncSession, project_id: str, from_on: date, to_on: date) -> list[tuple[int, int]]:
    """(live sessions held in [from_on, to_on], members) of each live group of the project that
    started in [from_on, to_on]."""
    sessions = (select(func.count()).where(GroupSession.group_id == Group.id, GroupSession.deleted_at.is_(None),
                                           GroupSession.held_on >= from_on, GroupSession.held_on <= to_on)
                .scalar_subquery())
    stmt = select(sessions, func.cardinality(Group.members)).where(
        Group.project_id == project_id, Group.deleted_at.is_(None), Group.starts_on >= from_on,
        Group.starts_on <= to_on)
    return [(int(a), int(b)) for a, b in (await session.execute(stmt)).all()]


async def session_person_times(session: AsyncSession, project_id: str, from_on: date,
                               to_on: date) -> tuple[int, int]:
    """(live sessions held in [from_on, to_on], their person-times: named attendees + anonymous headcounts)."""
    stmt = select(func.count(), func.coalesce(func.sum(GroupSession.named_count + GroupSession.anonymous_count), 0)
                  ).where(GroupSession.project_id == project_id, GroupSession.deleted_at.is_(None),
                          GroupSession.held_on >= from_on, GroupSession.held_on <= to_on)
    count, person_times = (await session.execute(stmt)).one()
    return int(count), int(person_times)


async def activity_figures(session: AsyncSession, project_id: str, from_on: date,
                           to_on: date) -> list[tuple[int, float]]:
    """(participants: named + headcount, resources in yuan) of each live activity of the project held
    in [from_on, to_on]."""
    stmt = select(Activity.named_count + Activity.anonymous_count, func.coalesce(Activity.resources_yuan, 0)).where(
        Activity.project_id == project_id, Activity.deleted_at.is_(None), Activity.held_on >= from_on,
        Activity.held_on <= to_on)
    return [(int(a), float(b)) for a, b in (await session.execute(stmt)).all()]
