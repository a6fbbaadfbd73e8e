"""Volunteer teams (志愿服务队) under a station: a leader and members, who may be in several teams."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import unknown
from services.volunteers.models import Station, Team, Volunteer
from services.volunteers.repository import teams as repo
from services.volunteers.schemas.teams import TeamCreate, TeamUpdate
from shared import clock
from shared.errors import Conflict
from shared.models import new_id
from shared.records import Vault, replay, save_new, tombstone, touch
from shared.repository import get_live
from shared.principals import Principal
from shared.stations import resolve_station


async def _leader(session: AsyncSession, principal: Principal, volunteer_id: str | None) -> Volunteer | None:
    if volunteer_id is None:
        return None
    volunteer = await get_live(session, Volunteer, volunteer_id, principal)
    if volunteer is None:
        raise unknown("leader_id", "volunteer")
    return volunteer


async def create(session: AsyncSession, vault: Vault, principal: Principal, body: TeamCreate) -> tuple[Team, bool]:
    digest = vault.digest("team", body)
    if (existing := await replay(session, Team, body.id, digest, principal)) is not None:
        return existing, False
    station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    leader = await _leader(session, principal, body.leader_id)
    team = Team(id=body.id or new_id(), station_id=station_id, station_path=station_path, name=body.name,
                description=body.description, leader_id=body.leader_id, create_digest=digest,
                created_by=principal.user_id, updated_by=principal.user_id, version=1)
    await save_new(session, team)
    if leader is not None:
        await repo.add_member(session, team.id, leader.id, clock.today(), principal.user_id)
    return team, True


async def update(session: AsyncSession, principal: Principal, team: Team, expected_version: int,
                 body: TeamUpdate) -> Team:
    fields = body.changes()
    touch(team, principal, expected_version)
    if fields.get("leader_id"):
        leader = await _leader(session, principal, fields["leader_id"])
        await repo.add_member(session, team.id, leader.id, clock.today(), principal.user_id)
    for key, value in fields.items():
        setattr(team, key, value)
    return team


def delete(principal: Principal, team: Team, expected_version: int) -> None:
    tombstone(team, principal, expected_version)


async def add_member(session: AsyncSession, principal: Principal, team: Team, volunteer: Volunteer, joined_on) -> None:
    await repo.add_member(session, team.id, volunteer.id, joined_on or clock.today(), principal.user_id)


async def remove_member(session: AsyncSession, team: Team, volunteer_id: str) -> bool:
    if team.leader_id == volunteer_id:
        raise Conflict("Name another leader before removing this one from the team.")
    return await repo.remove_member(session, team.id, volunteer_id)
