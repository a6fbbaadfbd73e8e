"""/v1/activities: community activities (社区活动) and their named participants."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.projects.api.attendance import add_attendee, attendance_list, replace_attendance
from services.projects.deps import (ActivityDep, ActivityForUpdateDep, IfMatchDep, ReadSessionDep,
                                    SubtreeDep, WriteSessionDep)
from services.projects.models import Activity
from services.projects.repository import activities as repo
from services.projects.repository import attendance as attendance_repo
from services.projects.schemas.work import (ActivityCreate, ActivityRead, ActivityUpdate, AttendanceBatch,
                                            AttendanceList, AttendanceRead, AttendeeInput)
from services.projects.service import activities as service
from services.projects.service import attendance
from services.projects.service.groups import project_for_work, project_of
from shared.audit.reads import log_reads
from shared.etag import OptionalIfMatchDep, answer_created, set_etag
from shared.contracts.lookup.client import AskerDep
from shared.contracts.lookup.schemas import LookupAnswer, LookupQuery
from shared.contracts.lookup.server import answer_lookup
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr404, PersonalWriterOr404
from shared.records import shown, withhold
from shared.repository import page
from shared.schemas import ClientId

router = APIRouter(prefix="/v1/activities", tags=["activities"])
ORDER = [Activity.held_on, Activity.id]
TABLE = Activity.__table__


@router.get("", response_model=Page[ActivityRead])
async def list_activities(
    principal: PersonalReaderOr404, session: ReadSessionDep, subtree: SubtreeDep, request: Request,
    paging: Annotated[PageParams, Depends(page_params)],
    project_id: Annotated[ClientId | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    from_on: Annotated[date | None, Query(alias="from")] = None,
    to_on: Annotated[date | None, Query(alias="to")] = None,
) -> dict:
    """Activities of your subtree, latest first."""
    stmt = repo.list_query(principal, station_path=subtree, project_id=project_id, kind=kind, from_on=from_on,
                           to_on=to_on)
    rows = await page(session, stmt, paging, ORDER)
    await log_reads(request, "activity", [(r.id, r.station_path) for r in rows[:paging.limit]])
    return make_page(rows, paging, ["held_on", "id"], shown(ActivityRead, TABLE, principal))


@router.post("", response_model=ActivityRead, status_code=status.HTTP_201_CREATED)
async def create_activity(body: ActivityCreate, principal: PersonalWriterOr404, session: WriteSessionDep,
                          asker: AskerDep, response: Response) -> ActivityRead:
    """Record a community activity with its headcount and, optionally, named participants."""
    project = await project_for_work(session, principal, body.project_id)
    # The lean path (service.activities.create_many): with the attendance, the records written most.
    [(record_id, created, record)] = await service.create_many(session, asker, principal, [(project, body)],
                                                               answer=True)
    answer_created(response, created, record["version"], f"/v1/activities/{record_id}")
    return withhold(ActivityRead.model_validate(record), TABLE, principal)


@router.post("/lookup", response_model=LookupAnswer)
async def lookup_activities(body: LookupQuery, principal: PersonalReaderOr404, session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are activities you can see; others are left out."""
    return await answer_lookup(session, Activity, principal, body)


@router.get("/{activity_id}", response_model=ActivityRead)
async def get_activity(record: ActivityDep, principal: PersonalReaderOr404, request: Request,
                       response: Response) -> ActivityRead:
    """One activity."""
    set_etag(response, record.version)
    await log_reads(request, "activity", [(record.id, record.station_path)])
    return withhold(ActivityRead.model_validate(record), TABLE, principal)


@router.patch("/{activity_id}", response_model=ActivityRead)
async def update_activity(body: ActivityUpdate, record: ActivityForUpdateDep, version: IfMatchDep,
                          principal: PersonalWriterOr404, session: WriteSessionDep, asker: AskerDep,
                          response: Response) -> ActivityRead:
    """Change an activity (If-Match required); its counts move with it."""
    project = await project_of(session, record)
    await service.update(session, asker, principal, project, record, version, body)
    set_etag(response, record.version)
    return withhold(ActivityRead.model_validate(record), TABLE, principal)


@router.delete("/{activity_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_activity(record: ActivityForUpdateDep, version: IfMatchDep, principal: PersonalWriterOr404,
                          session: WriteSessionDep) -> Response:
    """Remove an activity and its participants (soft delete; If-Match required)."""
    await service.delete(session, principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{activity_id}/attendance", response_model=AttendanceList, tags=["attendance"])
async def activity_attendance(record: ActivityDep, session: ReadSessionDep, request: Request) -> AttendanceList:
    """The activity's named participants, headcount and person-times."""
    rows = await attendance_repo.attendees(session, "activity_id", record.id)
    await log_reads(request, "attendance", [(r.id, r.station_path) for r in rows])
    return attendance_list(record, rows)


@router.post("/{activity_id}/attendance", response_model=AttendanceRead, status_code=status.HTTP_201_CREATED,
             tags=["attendance"])
async def add_activity_participant(body: AttendeeInput, record: ActivityForUpdateDep, principal: PersonalWriterOr404,
                                   session: WriteSessionDep, asker: AskerDep, response: Response) -> AttendanceRead:
    """Record one participant; recording the same person again answers 200 with the row already there."""
    return await add_attendee(session, asker, principal, record, body, response)


@router.put("/{activity_id}/attendance", response_model=AttendanceList, tags=["attendance"])
async def replace_activity_attendance(body: AttendanceBatch, record: ActivityForUpdateDep,
                                      principal: PersonalWriterOr404, session: WriteSessionDep, asker: AskerDep,
                                      version: OptionalIfMatchDep, response: Response) -> AttendanceList:
    """Set the whole participant list (and the headcount, when given) at once."""
    return await replace_attendance(session, asker, principal, record, body, version, response)


@router.delete("/{activity_id}/attendance/{beneficiary_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["attendance"])
async def remove_activity_participant(beneficiary_id: str, record: ActivityForUpdateDep, principal: PersonalWriterOr404,
                                      session: WriteSessionDep) -> Response:
    """Take one participant off the list."""
    await attendance.remove_one(session, principal, record, beneficiary_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
