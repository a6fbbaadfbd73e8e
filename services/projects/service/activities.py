"""Community activities: counted per event, with their named participants and headcount."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Project
from services.projects.schemas.work import ActivityCreate, ActivityUpdate, AttendanceBatch
from services.projects.service import attendance, references
from services.projects.service.counting import Rollup
from services.projects.service.groups import in_period, station_under
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.records import digest, replay, save_new, tombstone, touch
from shared.principals import Principal


def _check_times(starts_at, ends_at) -> None:
    if starts_at and ends_at and ends_at < starts_at:
        raise InvalidInput.field("ends_at", "The activity cannot end before it starts.", "before_start")


async def _volunteers(asker: Asker, ids: list[str], kept: list[str]) -> list[str]:
    """The activity's volunteers, once each; those it did not name already must be volunteers the
    caller can see (one who has since left the caller's scope stays named)."""
    new: dict[str, str] = {}
    for i, volunteer_id in enumerate(ids):
        if volunteer_id not in kept:
            new.setdefault(volunteer_id, f"volunteer_ids[{i}]")
    await references.check_volunteers(asker, list(new), list(new.values()))
    return list(dict.fromkeys(ids))


async def create(session: AsyncSession, asker: Asker, principal: Principal,
                 project: Project, body: ActivityCreate) -> tuple[Activity, bool]:
    create_digest = digest("activity", body)
    if (existing := await replay(session, Activity, body.id, create_digest, principal)) is not None:
        return existing, False
    station_id, station_path = await station_under(session, principal, project, body.station_id)
    in_period(project, body.held_on, "held_on")
    _check_times(body.starts_at, body.ends_at)
    fields = body.model_dump(exclude={"id", "station_id", "attendees", "anonymous_count"})
    fields["volunteer_ids"] = await _volunteers(asker, fields["volunteer_ids"], [])
    record = Activity(id=body.id or new_id(), station_id=station_id, station_path=station_path, anonymous_count=0,
                      named_count=0, create_digest=create_digest, created_by=principal.user_id,
                      updated_by=principal.user_id, version=1, **fields)
    await save_new(session, record)
    rollup = Rollup()
    rollup.activity(record, +1)
    await rollup.write(session)
    # An unknown attendee fails the whole request: the request's transaction is rolled back.
    await attendance.replace(session, asker, principal, record,
                             AttendanceBatch(attendees=body.attendees, anonymous_count=body.anonymous_count))
    record.version = 1
    return record, True


async def update(session: AsyncSession, asker: Asker, principal: Principal, project: Project, record: Activity,
                 expected_version: int, body: ActivityUpdate) -> Activity:
    fields = body.changes()
    touch(record, principal, expected_version)
    if "volunteer_ids" in fields:
        fields["volunteer_ids"] = await _volunteers(asker, fields["volunteer_ids"], record.volunteer_ids)
    if "held_on" in fields:
        in_period(project, fields["held_on"], "held_on")
    _check_times(fields.get("starts_at", record.starts_at), fields.get("ends_at", record.ends_at))
    rollup = Rollup()
    rollup.activity(record, -1)
    await attendance.move(session, record, rollup, -1)
    for key, value in fields.items():
        setattr(record, key, value)
    rollup.activity(record, +1)
    await attendance.move(session, record, rollup, +1)
    await rollup.write(session)
    return record


async def delete(session: AsyncSession, principal: Principal, record: Activity, expected_version: int) -> None:
    tombstone(record, principal, expected_version)
    rollup = Rollup()
    rollup.activity(record, -1)
    await attendance.take_back(session, [record], rollup, principal.user_id)
    await rollup.write(session)
