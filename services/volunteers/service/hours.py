"""Service hours: recorded by the organiser, confirmed by them, disputed by the volunteer,
corrected by the organiser; every state is kept in the record's history.

Hours are of actual service, travel excluded (DOMAIN.md): start and end times say when the
volunteer was at the service; `hours` may be less than that span (a break, a handover), never
more, and defaults to it. A shift that crosses midnight is two records, one per day.
"""

from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import unknown
from services.volunteers.models import ServiceHours, ServiceHoursVersion, Station, Team, Volunteer
from services.volunteers.repository import hours as repo
from services.volunteers.repository.common import get_unscoped
from services.volunteers.schemas.hours import ConfirmInput, CorrectionInput, DisputeInput, HoursCreate
from services.volunteers.service.counting import Rollup, certified_hours
from services.volunteers.service.references import check_occasion
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.lookup import Asker
from shared.models import new_id
from shared.records import IdInUse, TransitionNotAllowed, Vault, replay, touch
from shared.repository import UniqueViolation, get_live, save
from shared.stations import resolve_station

MAX_HOURS_A_DAY = Decimal(24)
SERVICE_FIELDS = ("activity_kind", "activity_ref", "activity_title", "served_on", "start_time", "end_time", "hours",
                  "content")

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    # Confirming a disputed record upholds it after review; the dispute stays in the history.
    "confirm": (frozenset({"recorded", "disputed"}), "confirmed"),
    "dispute": (frozenset({"recorded", "confirmed", "corrected"}), "disputed"),
    "correct": (frozenset({"recorded", "confirmed", "disputed", "corrected"}), "corrected"),
}


def allowed_actions(status: str) -> list[str]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def _span_hours(start: time, end: time) -> Decimal:
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def settle(values: dict) -> dict:
    """Check one version of the service fields and derive hours from the times when not given."""
    start, end, hours = values.get("start_time"), values.get("end_time"), values.get("hours")
    if (start is None) != (end is None):
        raise InvalidInput.field("end_time" if end is None else "start_time", "Give both start and end time, "
                                 "or neither.", "missing")
    if start is not None:
        if end <= start:
            raise InvalidInput.field("end_time", "The end is not after the start (a shift past midnight is two "
                                     "records).", "end_before_start")
        span = _span_hours(start, end)
        if hours is None:
            hours = span
        elif hours > span:
            raise InvalidInput.field("hours", "Hours of service exceed the time between start and end.",
                                     "over_span")
    if hours is None:
        raise InvalidInput.field("hours", "Give the hours served, or start and end times.", "missing")
    if hours <= 0:
        raise InvalidInput.field("hours", "Hours must be more than zero.", "not_positive")
    kind = values.get("activity_kind") or "free_text"
    if kind != "free_text" and not values.get("activity_ref"):
        raise InvalidInput.field("activity_ref", f"Give the id of the {kind.replace('_', ' ')}.", "missing")
    if kind == "free_text" and values.get("activity_ref"):
        # Only an activity or a session is checked with the projects service: an id beside free
        # text would be kept unchecked.
        raise InvalidInput.field("activity_ref", "Free text names no activity: leave activity_ref out, or give "
                                 "the activity_kind it belongs to.", "not_an_occasion")
    return {**values, "activity_kind": kind, "hours": hours}


async def _check_day_total(session: AsyncSession, record_id: str | None, volunteer_id: str, day: date,
                           hours: Decimal) -> None:
    already = await repo.hours_on_day(session, volunteer_id, day, exclude_id=record_id)
    if already + hours > MAX_HOURS_A_DAY:
        raise InvalidInput.field("hours", f"The volunteer would have more than 24 hours on {day.isoformat()} "
                                 f"({already} already recorded).", "over_24_a_day")


def _snapshot(record: ServiceHours) -> dict:
    return {k: (v.isoformat() if isinstance(v, (date, time)) else float(v) if isinstance(v, Decimal) else v)
            for k in SERVICE_FIELDS for v in (getattr(record, k),)}


def _remember(session: AsyncSession, record: ServiceHours, action: str, principal: Principal,
              note: str | None = None) -> None:
    session.add(ServiceHoursVersion(hours_id=record.id, version=record.version, action=action, status=record.status,
                                    snapshot=_snapshot(record), note=note, by=principal.user_id))


async def create(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal,
                 body: HoursCreate) -> tuple[ServiceHours, bool]:
    digest = vault.digest("service_hours", body)
    existing = await replay(session, ServiceHours, body.id, digest, principal)
    if existing is not None:
        return existing, False
    volunteer = await get_live(session, Volunteer, body.volunteer_id, principal, for_update=True)
    if volunteer is None:
        raise unknown("volunteer_id", "volunteer")
    if body.team_id:
        team = await get_live(session, Team, body.team_id, principal)
        if team is None:
            raise unknown("team_id", "team")
        station_id, station_path = team.station_id, team.station_path
    else:
        station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    values = settle(body.model_dump(include=set(SERVICE_FIELDS)))
    await check_occasion(asker, values["activity_kind"], values.get("activity_ref"))
    await _check_day_total(session, None, volunteer.id, values["served_on"], values["hours"])
    record = ServiceHours(id=body.id or new_id(), volunteer_id=volunteer.id, team_id=body.team_id,
                          station_id=station_id, station_path=station_path, status="recorded", create_digest=digest,
                          created_by=principal.user_id, updated_by=principal.user_id, version=1, **values)
    try:
        await save(session, record)
    except UniqueViolation:
        raise IdInUse() from None
    _remember(session, record, "record", principal)
    rollup = Rollup()
    rollup.hours(record, +1)
    await rollup.write(session)
    return record, True


async def correct(session: AsyncSession, asker: Asker, principal: Principal, record: ServiceHours,
                  body: CorrectionInput, expected_version: int | None) -> ServiceHours:
    """The organiser's correction: a new activity or session it names must be one the caller can see."""
    changes = body.model_dump(exclude_unset=True, include={"activity_kind", "activity_ref"})
    kind = changes.get("activity_kind", record.activity_kind) or "free_text"
    ref = changes.get("activity_ref", record.activity_ref)
    if (kind, ref) != (record.activity_kind, record.activity_ref):
        await check_occasion(asker, kind, ref)
    return await act(session, principal, record, "correct", body, expected_version)


async def act(session: AsyncSession, principal: Principal, record: ServiceHours, action: str,
              body: ConfirmInput | DisputeInput | CorrectionInput, expected_version: int | None) -> ServiceHours:
    """One lifecycle step; counts and the volunteer's certified hours follow the record."""
    sources, target = TRANSITIONS[action]
    if record.status not in sources:
        raise TransitionNotAllowed(action, record.status, allowed_actions(record.status))
    touch(record, principal, expected_version)
    # Lock the volunteer: the 24-hour check and certified hours must not race another write.
    volunteer = await get_unscoped(session, Volunteer, record.volunteer_id, for_update=True)
    before = certified_hours(record)
    rollup = Rollup()
    rollup.hours(record, -1)
    note = getattr(body, "reason", None) or getattr(body, "note", None)
    if action == "correct":
        changes = body.model_dump(exclude_unset=True, exclude={"reason"})
        if changes.get("activity_kind") == "free_text":
            changes.setdefault("activity_ref", None)  # no longer served at an activity
        values = settle({**{k: getattr(record, k) for k in SERVICE_FIELDS}, **changes})
        await _check_day_total(session, record.id, record.volunteer_id, values["served_on"], values["hours"])
        for key, value in values.items():
            setattr(record, key, value)
    if action == "dispute":
        record.dispute_reason = body.reason
    record.status = target
    rollup.hours(record, +1)
    await rollup.write(session)
    if volunteer is not None:
        volunteer.certified_hours += certified_hours(record) - before
    _remember(session, record, action, principal, note)
    return record


async def delete(session: AsyncSession, principal: Principal, record: ServiceHours, expected_version: int) -> None:
    touch(record, principal, expected_version)
    volunteer = await get_unscoped(session, Volunteer, record.volunteer_id, for_update=True)
    before = certified_hours(record)
    rollup = Rollup()
    rollup.hours(record, -1)
    record.deleted_at = datetime.now(timezone.utc)
    await rollup.write(session)
    if volunteer is not None:
        volunteer.certified_hours -= before
    _remember(session, record, "delete", principal)
