"""Named attendance of group sessions and activities, one attendee at a time or a whole list.

Attendee ids are checked with the casework service (through the gateway, as the caller) before
anything is written; their populations are copied onto the row for counting. Recording the same
person twice for one occasion answers the row already there.
"""

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Attendance, GroupSession
from services.projects.repository import groups as repo
from services.projects.schemas.work import AttendanceBatch, AttendeeInput
from services.projects.service import references
from services.projects.service.counting import Rollup
from services.projects.service.references import Found
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.principals import Principal
from shared.records import IdInUse, RecordNotFound
from shared.repository import UniqueViolation, get_any, save
from shared.stats import Metric


def column(occasion) -> str:
    return "session_id" if isinstance(occasion, GroupSession) else "activity_id"


async def check(asker: Asker, ids: list[str], fields: list[str]) -> dict[str, Found]:
    """The beneficiaries behind `ids`; a 422 naming every field whose id is not one in the caller's scope."""
    if not ids:
        return {}
    return await references.beneficiaries(asker, ids, fields)


def _row(occasion, principal: Principal, beneficiary: Found, row_id: str | None) -> Attendance:
    return Attendance(id=row_id or new_id(), station_id=occasion.station_id, station_path=occasion.station_path,
                      beneficiary_id=beneficiary.id, populations=list(beneficiary.populations),
                      person_no=beneficiary.person_no,
                      created_by=principal.user_id, updated_by=principal.user_id, version=1,
                      **{column(occasion): occasion.id})


def _changed(occasion, principal: Principal) -> None:
    # The occasion's person-times are part of its representation: a new ETag.
    occasion.version += 1
    occasion.updated_by = principal.user_id


async def _insert(session: AsyncSession, occasion, row: Attendance) -> Attendance | None:
    """The row inserted, or None when a concurrent request recorded the same person first."""
    try:
        await save(session, row)
    except UniqueViolation as exc:
        if exc.constraint and exc.constraint.startswith("uq_attendance_"):
            return None
        raise IdInUse() from None
    return row


async def add_one(session: AsyncSession, asker: Asker, principal: Principal, occasion,
                  body: AttendeeInput) -> tuple[Attendance, bool]:
    existing = {a.beneficiary_id: a for a in await repo.attendees(session, column(occasion), occasion.id)}
    if body.beneficiary_id in existing:
        return existing[body.beneficiary_id], False
    if body.id and await get_any(session, Attendance, body.id) is not None:
        raise IdInUse()
    found = await check(asker, [body.beneficiary_id], ["beneficiary_id"])
    row = await _insert(session, occasion, _row(occasion, principal, found[body.beneficiary_id], body.id))
    if row is None:
        again = {a.beneficiary_id: a for a in await repo.attendees(session, column(occasion), occasion.id)}
        return again[body.beneficiary_id], False
    occasion.named_count += 1
    _changed(occasion, principal)
    rollup = Rollup()
    rollup.attendee(occasion, row, +1)
    await rollup.write(session)
    return row, True


async def replace(session: AsyncSession, asker: Asker, principal: Principal, occasion,
                  batch: AttendanceBatch, *, field: str = "attendees") -> list[Attendance]:
    """Make the named attendees exactly `batch.attendees` (and the headcount, when given)."""
    current = {a.beneficiary_id: a for a in await repo.attendees(session, column(occasion), occasion.id,
                                                                 for_update=True)}
    wanted: dict[str, tuple[int, AttendeeInput]] = {}
    for i, attendee in enumerate(batch.attendees):
        wanted.setdefault(attendee.beneficiary_id, (i, attendee))
    new = [(i, a) for b, (i, a) in wanted.items() if b not in current]
    found = await check(asker, [a.beneficiary_id for _, a in new],
                        [f"{field}[{i}].beneficiary_id" for i, _ in new])
    rollup = Rollup()
    now = datetime.now(timezone.utc)
    for beneficiary_id, row in current.items():
        if beneficiary_id not in wanted:
            row.deleted_at, row.updated_by, row.version = now, principal.user_id, row.version + 1
            rollup.attendee(occasion, row, -1)
    for _, attendee in new:
        if attendee.id and await get_any(session, Attendance, attendee.id) is not None:
            raise IdInUse()
        row = await _insert(session, occasion, _row(occasion, principal, found[attendee.beneficiary_id], attendee.id))
        if row is not None:
            rollup.attendee(occasion, row, +1)
    if batch.anonymous_count is not None and batch.anonymous_count != occasion.anonymous_count:
        metric_change = batch.anonymous_count - occasion.anonymous_count
        rollup.add(occasion, occasion.held_on, _metric(occasion), metric_change)
        occasion.anonymous_count = batch.anonymous_count
    await session.flush()
    occasion.named_count = await repo.named_count(session, column(occasion), occasion.id)
    _changed(occasion, principal)
    await rollup.write(session)
    return await repo.attendees(session, column(occasion), occasion.id)


async def remove_one(session: AsyncSession, principal: Principal, occasion, beneficiary_id: str) -> None:
    rows = [a for a in await repo.attendees(session, column(occasion), occasion.id, for_update=True)
            if a.beneficiary_id == beneficiary_id]
    if not rows:
        raise RecordNotFound("attendee")
    row = rows[0]
    row.deleted_at, row.updated_by, row.version = datetime.now(timezone.utc), principal.user_id, row.version + 1
    occasion.named_count -= 1
    _changed(occasion, principal)
    rollup = Rollup()
    rollup.attendee(occasion, row, -1)
    await rollup.write(session)


def _metric(occasion) -> Metric:
    return Metric.person_times_group if isinstance(occasion, GroupSession) else Metric.person_times_community


async def take_back(session: AsyncSession, occasions: list, rollup: Rollup, user_id: str) -> None:
    """Tombstone the attendance of deleted occasions and take its counts back."""
    if not occasions:
        return
    col = column(occasions[0])
    by_id = {o.id: o for o in occasions}
    for row in await repo.attendees_of_many(session, col, list(by_id)):
        rollup.attendee(by_id[getattr(row, col)], row, -1)
    await repo.tombstone_attendance(session, col, list(by_id), user_id)


async def move(session: AsyncSession, occasion, rollup: Rollup, sign: int) -> None:
    """Add (+1) or take out (-1) the named attendees' counts at the occasion's current day."""
    for row in await repo.attendees(session, column(occasion), occasion.id):
        rollup.attendee(occasion, row, sign)
