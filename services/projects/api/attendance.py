"""What the attendance routes of sessions and activities share."""

from services.projects.schemas.work import AttendanceList, AttendanceRead


def attendance_list(occasion, rows) -> AttendanceList:
    return AttendanceList(items=[AttendanceRead.model_validate(r) for r in rows], named_count=occasion.named_count,
                          anonymous_count=occasion.anonymous_count, person_times=occasion.person_times)
