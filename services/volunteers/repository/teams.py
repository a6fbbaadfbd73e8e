"""Team and membership queries."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import AuditLog, Team, TeamMember, Volunteer
from shared.audit import log_write
from shared.principals import Principal
from shared.repository import live, narrowed


def list_query(principal: Principal, *, station_path: str | None, q: str | None, volunteer_id: str | None):
    stmt = narrowed(live(Team, principal), Team, station_path=station_path)
    if q:
        stmt = stmt.where(Team.name.contains(q, autoescape=True))
    if volunteer_id:
        stmt = stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.volunteer_id == volunteer_id)))
    return stmt


async def add_member(session: AsyncSession, team_id: str, volunteer_id: str, joined_on, user_id: str) -> None:
    """Idempotent: a volunteer already in the team keeps their joining date."""
    added = await session.execute(pg_insert(TeamMember).values(team_id=team_id, volunteer_id=volunteer_id,
                                                               joined_on=joined_on, added_by=user_id)
                                  .on_conflict_do_nothing())
    if added.rowcount:
        log_write(session, AuditLog, "create", TeamMember.__tablename__, f"{team_id}:{volunteer_id}")


async def remove_member(session: AsyncSession, team_id: str, volunteer_id: str) -> bool:
    member = await session.get(TeamMember, (team_id, volunteer_id))
    if member is None:
        return False
    await session.delete(member)
    return True


async def members(session: AsyncSession, team_id: str) -> list[tuple[TeamMember, Volunteer]]:
    stmt = (select(TeamMember, Volunteer).join(Volunteer, Volunteer.id == TeamMember.volunteer_id)
            .where(TeamMember.team_id == team_id, Volunteer.deleted_at.is_(None))
            .order_by(TeamMember.joined_on, Volunteer.id))
    return [(m, v) for m, v in (await session.execute(stmt)).all()]


async def member(session: AsyncSession, team_id: str, volunteer_id: str) -> TeamMember | None:
    return await session.get(TeamMember, (team_id, volunteer_id))
