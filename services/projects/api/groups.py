"""/v1/groups: groups (小组), their sessions (节) and each session's attendance."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.projects.api.attendance import add_attendee, attendance_list, replace_attendance
from services.projects.deps import (GroupDep, GroupForUpdateDep, IfMatchDep, ReadSessionDep,
                                    SubtreeDep, WriteSessionDep)
from services.projects.models import Group, GroupSession
from services.projects.repository import attendance as attendance_repo
from services.projects.repository import groups as repo
from services.projects.schemas.work import (AttendanceBatch, AttendanceList, AttendanceRead, AttendeeInput,
                                            GroupCreate, GroupRead, GroupUpdate, SessionCreate, SessionRead,
                                            SessionUpdate, Stage)
from services.projects.service import attendance
from services.projects.service import groups as service
from shared.audit.reads import log_reads
from shared.etag import OptionalIfMatchDep, answer_created, set_etag
from shared.contracts.lookup.client import AskerDep
from shared.contracts.lookup.schemas import LookupAnswer, LookupQuery
from shared.contracts.lookup.server import answer_lookup
from shared.pagination import Page, PageParams, make_page, page_params
from shared.records import live_or_404, shown, withhold
from shared.repository import page
from shared.principals import PersonalReaderOr404, PersonalWriterOr404
from shared.schemas import ClientId

router = APIRouter(prefix="/v1/groups", tags=["groups"])
ORDER = [Group.starts_on, Group.id]
SESSIONS = GroupSession.__table__


@router.get("", response_model=Page[GroupRead])
async def list_groups(
    principal: PersonalReaderOr404, session: ReadSessionDep, subtree: SubtreeDep,
    paging: Annotated[PageParams, Depends(page_params)],
    project_id: Annotated[ClientId | None, Query()] = None, stage: Stage | None = None,
    member_id: Annotated[ClientId | None, Query(description="Groups this beneficiary is a member of")] = None,
) -> dict:
    """Groups of your subtree, latest start first."""
    stmt = repo.list_query(principal, station_path=subtree, project_id=project_id, stage=stage, member_id=member_id)
    return make_page(await page(session, stmt, paging, ORDER), paging, ["starts_on", "id"], GroupRead.model_validate)


@router.post("", response_model=GroupRead, status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupCreate, principal: PersonalWriterOr404, session: WriteSessionDep, asker: AskerDep,
                       response: Response) -> GroupRead:
    """Start a group under a project; members are beneficiary ids of your scope."""
    project = await service.project_for_work(session, principal, body.project_id)
    group, created = await service.create(session, asker, principal, project, body)
    answer_created(response, created, group.version, f"/v1/groups/{group.id}")
    return GroupRead.model_validate(group)


@router.post("/sessions/lookup", response_model=LookupAnswer, tags=["sessions"])
async def lookup_sessions(body: LookupQuery, principal: PersonalReaderOr404, session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are group sessions you can see; others are left out."""
    return await answer_lookup(session, GroupSession, principal, body)


@router.get("/{group_id}", response_model=GroupRead)
async def get_group(group: GroupDep, response: Response) -> GroupRead:
    """One group."""
    set_etag(response, group.version)
    return GroupRead.model_validate(group)


@router.patch("/{group_id}", response_model=GroupRead)
async def update_group(body: GroupUpdate, group: GroupForUpdateDep, version: IfMatchDep, principal: PersonalWriterOr404,
                       session: WriteSessionDep, asker: AskerDep, response: Response) -> GroupRead:
    """Change a group: title, stage, members... (If-Match required)."""
    project = await service.project_of(session, group)
    await service.update(session, asker, principal, project, group, version, body)
    set_etag(response, group.version)
    return GroupRead.model_validate(group)


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group: GroupForUpdateDep, version: IfMatchDep, principal: PersonalWriterOr404,
                       session: WriteSessionDep) -> Response:
    """Remove a group with its sessions (soft delete; If-Match required); its counts are taken back."""
    await service.delete(session, principal, group, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _session(session, group: Group, session_id: str, principal, for_update: bool = False) -> GroupSession:
    return await live_or_404(session, GroupSession, session_id, principal, for_update=for_update,
                             where=(GroupSession.group_id == group.id,), kind="session")


@router.get("/{group_id}/sessions", response_model=Page[SessionRead], tags=["sessions"])
async def list_sessions(group: GroupDep, principal: PersonalReaderOr404, session: ReadSessionDep, request: Request,
                        paging: Annotated[PageParams, Depends(page_params)],
                        from_on: Annotated[date | None, Query(alias="from")] = None,
                        to_on: Annotated[date | None, Query(alias="to")] = None) -> dict:
    """The group's sessions, latest first, each with its person-times."""
    stmt = repo.sessions_query(principal, group.id, from_on, to_on)
    rows = await page(session, stmt, paging, [GroupSession.held_on, GroupSession.id])
    await log_reads(request, "group_session", [(r.id, r.station_path) for r in rows[:paging.limit]])
    return make_page(rows, paging, ["held_on", "id"], shown(SessionRead, SESSIONS, principal))


@router.post("/{group_id}/sessions", response_model=SessionRead, status_code=status.HTTP_201_CREATED,
             tags=["sessions"])
async def add_session(body: SessionCreate, group: GroupForUpdateDep, principal: PersonalWriterOr404,
                      session: WriteSessionDep, asker: AskerDep, response: Response) -> SessionRead:
    """Record a session, optionally with its attendees and anonymous headcount (a client id makes retries safe)."""
    project = await service.project_of(session, group)
    record, created = await service.add_session(session, asker, principal, project, group, body)
    answer_created(response, created, record.version, f"/v1/groups/{group.id}/sessions/{record.id}")
    return withhold(SessionRead.model_validate(record), SESSIONS, principal)


@router.get("/{group_id}/sessions/{session_id}", response_model=SessionRead, tags=["sessions"])
async def get_session(session_id: str, group: GroupDep, principal: PersonalReaderOr404, session: ReadSessionDep,
                      request: Request, response: Response) -> SessionRead:
    """One session."""
    record = await _session(session, group, session_id, principal)
    set_etag(response, record.version)
    await log_reads(request, "group_session", [(record.id, record.station_path)])
    return withhold(SessionRead.model_validate(record), SESSIONS, principal)


@router.patch("/{group_id}/sessions/{session_id}", response_model=SessionRead, tags=["sessions"])
async def update_session(session_id: str, body: SessionUpdate, group: GroupForUpdateDep, version: IfMatchDep,
                         principal: PersonalWriterOr404, session: WriteSessionDep, response: Response) -> SessionRead:
    """Change a session's date, topic or headcount (If-Match required)."""
    record = await _session(session, group, session_id, principal, for_update=True)
    project = await service.project_of(session, group)
    await service.update_session(session, principal, project, group, record, version, body)
    set_etag(response, record.version)
    return withhold(SessionRead.model_validate(record), SESSIONS, principal)


@router.delete("/{group_id}/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["sessions"])
async def delete_session(session_id: str, group: GroupForUpdateDep, version: IfMatchDep, principal: PersonalWriterOr404,
                         session: WriteSessionDep) -> Response:
    """Remove a session and its attendance (soft delete; If-Match required)."""
    record = await _session(session, group, session_id, principal, for_update=True)
    await service.delete_session(session, principal, group, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{group_id}/sessions/{session_id}/attendance", response_model=AttendanceList, tags=["attendance"])
async def session_attendance(session_id: str, group: GroupDep, principal: PersonalReaderOr404,
                             session: ReadSessionDep, request: Request) -> AttendanceList:
    """The session's named attendees, headcount and person-times."""
    record = await _session(session, group, session_id, principal)
    rows = await attendance_repo.attendees(session, "session_id", record.id)
    await log_reads(request, "attendance", [(r.id, r.station_path) for r in rows])
    return attendance_list(record, rows)


@router.post("/{group_id}/sessions/{session_id}/attendance", response_model=AttendanceRead,
             status_code=status.HTTP_201_CREATED, tags=["attendance"])
async def add_session_attendee(session_id: str, body: AttendeeInput, group: GroupForUpdateDep,
                               principal: PersonalWriterOr404, session: WriteSessionDep, asker: AskerDep,
                               response: Response) -> AttendanceRead:
    """Record one attendee; recording the same person again answers 200 with the row already there."""
    record = await _session(session, group, session_id, principal, for_update=True)
    return await add_attendee(session, asker, principal, record, body, response)


@router.put("/{group_id}/sessions/{session_id}/attendance", response_model=AttendanceList, tags=["attendance"])
async def replace_session_attendance(session_id: str, body: AttendanceBatch, group: GroupForUpdateDep,
                                     principal: PersonalWriterOr404, session: WriteSessionDep, asker: AskerDep,
                                     version: OptionalIfMatchDep, response: Response) -> AttendanceList:
    """Set the whole attendance list (and the headcount, when given) of a session at once."""
    record = await _session(session, group, session_id, principal, for_update=True)
    return await replace_attendance(session, asker, principal, record, body, version, response)


@router.delete("/{group_id}/sessions/{session_id}/attendance/{beneficiary_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["attendance"])
async def remove_session_attendee(session_id: str, beneficiary_id: str, group: GroupForUpdateDep,
                                  principal: PersonalWriterOr404, session: WriteSessionDep) -> Response:
    """Take one attendee off the session's list."""
    record = await _session(session, group, session_id, principal, for_update=True)
    await attendance.remove_one(session, principal, record, beneficiary_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
