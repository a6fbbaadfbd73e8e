"""What the attendance routes of sessions and activities share: each route loads its occasion (a
session or an activity), these answer for it."""

from fastapi import Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.repository.attendance import OccasionRow
from services.projects.schemas.work import AttendanceBatch, AttendanceList, AttendanceRead, AttendeeInput
from services.projects.service import attendance
from shared.contracts.lookup.client import Asker
from shared.etag import check_version, set_etag
from shared.principals import Principal


def attendance_list(occasion, rows) -> AttendanceList:
    return AttendanceList(items=[AttendanceRead.model_validate(r) for r in rows], named_count=occasion.named_count,
                          anonymous_count=occasion.anonymous_count, person_times=occasion.person_times)


async def add_attendee(session: AsyncSession, asker: Asker, principal: Principal, occasion, body: AttendeeInput,
                       response: Response) -> AttendanceRead:
    """One attendee added; 200 with the row already there when the person was recorded before."""
    # The lean path (service.attendance.add_many): with the service records, the records written most.
    [(_, created, row)] = await attendance.add_many(session, asker, principal, [(OccasionRow.of(occasion), body)],
                                                    answer=True)
    if not created:
        response.status_code = status.HTTP_200_OK
    return AttendanceRead.model_validate(row)


async def replace_attendance(session: AsyncSession, asker: Asker, principal: Principal, occasion,
                             body: AttendanceBatch, version: int | None, response: Response) -> AttendanceList:
    """The whole list set at once, guarded by If-Match when the caller sent one."""
    if version is not None:
        check_version(version, occasion.version)
    rows = await attendance.replace(session, asker, principal, occasion, body)
    set_etag(response, occasion.version)
    return attendance_list(occasion, rows)
