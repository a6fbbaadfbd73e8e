from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.volunteers.deps import (IdWriterDep, IfMatchDep, ReadSessionDep, SubtreeDep, VaultDep,
                                      VolunteerForUpdateDep, WriteSessionDep)
from services.volunteers.models import Team
from services.volunteers.repository import teams as repo
from services.volunteers.schemas.teams import MemberInput, MemberList, MemberRead, TeamCreate, TeamRead, TeamUpdate
from services.volunteers.service import teams as service
from shared.etag import answer_created, set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.records import RecordNotFound, live_or_404
from shared.repository import page
from shared.principals import PersonalReaderOr403, PersonalWriterOr403

router = APIRouter(prefix="/v1/teams", tags=["teams"])
ORDER = [Team.created_at, Team.id]


async def team_for_read(team_id: str, principal: PersonalReaderOr403, session: ReadSessionDep) -> Team:
    return await live_or_404(session, Team, team_id, principal, kind="team")


async def team_for_write(team_id: str, principal: IdWriterDep, session: WriteSessionDep) -> Team:
    return await live_or_404(session, Team, team_id, principal, for_update=True, kind="team")


TeamDep = Annotated[Team, Depends(team_for_read)]
TeamForUpdateDep = Annotated[Team, Depends(team_for_write)]


@router.get("", response_model=Page[TeamRead])
async def list_teams(principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep,
                     paging: Annotated[PageParams, Depends(page_params)],
                     q: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
                     volunteer_id: Annotated[str | None, Query(max_length=64, description="Teams with this member")]
                     = None) -> dict:
    """Volunteer teams of your subtree, newest first."""
    stmt = repo.list_query(principal, station_path=subtree, q=q, volunteer_id=volunteer_id)
    rows = await page(session, stmt, paging, ORDER)
    return make_page(rows, paging, ["created_at", "id"], TeamRead.model_validate)


@router.post("", response_model=TeamRead, status_code=status.HTTP_201_CREATED)
async def create_team(body: TeamCreate, principal: PersonalWriterOr403, session: WriteSessionDep, vault: VaultDep,
                      response: Response) -> TeamRead:
    """Form a volunteer team (志愿服务队) under a station; its leader becomes a member."""
    team, created = await service.create(session, vault, principal, body)
    answer_created(response, created, team.version, f"/v1/teams/{team.id}")
    return TeamRead.model_validate(team)


@router.get("/{team_id}", response_model=TeamRead)
async def get_team(team: TeamDep, response: Response) -> TeamRead:
    """One team."""
    set_etag(response, team.version)
    return TeamRead.model_validate(team)


@router.patch("/{team_id}", response_model=TeamRead)
async def update_team(body: TeamUpdate, team: TeamForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                      session: WriteSessionDep, response: Response) -> TeamRead:
    """Rename a team, describe it or name a new leader (If-Match required)."""
    await service.update(session, principal, team, version, body)
    set_etag(response, team.version)
    return TeamRead.model_validate(team)


@router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team: TeamForUpdateDep, version: IfMatchDep, principal: IdWriterDep) -> Response:
    """Dissolve a team (soft delete; If-Match required); its service records keep their hours."""
    service.delete(principal, team, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{team_id}/members", response_model=MemberList)
async def list_members(team: TeamDep, session: ReadSessionDep) -> MemberList:
    """The team's members, earliest joined first."""
    rows = await repo.members(session, team.id)
    return MemberList(items=[MemberRead(volunteer_id=v.id, name=v.name, volunteer_number=v.volunteer_number,
                                        joined_on=m.joined_on, leader=v.id == team.leader_id) for m, v in rows])


@router.put("/{team_id}/members/{volunteer_id}", response_model=MemberRead)
async def add_member(team: TeamForUpdateDep, volunteer: VolunteerForUpdateDep, principal: IdWriterDep,
                     session: WriteSessionDep, body: MemberInput | None = None) -> MemberRead:
    """Add a volunteer of your subtree to the team (a repeat changes nothing)."""
    await service.add_member(session, principal, team, volunteer, (body or MemberInput()).joined_on)
    member = await repo.member(session, team.id, volunteer.id)
    return MemberRead(volunteer_id=volunteer.id, name=volunteer.name, volunteer_number=volunteer.volunteer_number,
                      joined_on=member.joined_on, leader=volunteer.id == team.leader_id)


@router.delete("/{team_id}/members/{volunteer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(volunteer_id: str, team: TeamForUpdateDep, principal: IdWriterDep,
                        session: WriteSessionDep) -> Response:
    """Take a volunteer out of the team; the leader cannot be removed while leading."""
    if not await service.remove_member(session, team, volunteer_id):
        raise RecordNotFound("team member")
    return Response(status_code=status.HTTP_204_NO_CONTENT)

