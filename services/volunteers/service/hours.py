"""Service hours: recorded by the organiser, confirmed by them, disputed by the volunteer,
corrected by the organiser; every state is kept in the record's history.

Hours are of actual service, travel excluded (DOMAIN.md): start and end times say when the
volunteer was at the service; `hours` may be less than that span (a break, a handover), never
more, and defaults to it. A record is one shift: one that runs past midnight ends on the next
day (`ends_on`) and is still one record (service/shifts.py).
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import unknown
from services.volunteers.models import AuditLog, ServiceHours, ServiceHoursVersion, Station, Team, Volunteer
from services.volunteers.repository import hours as repo
from services.volunteers.repository.common import get_unscoped
from services.volunteers.schemas.hours import ConfirmInput, CorrectionInput, DisputeInput, HoursCreate
from services.volunteers.service import shifts
from services.volunteers.service.counting import Rollup, certified_hours
from services.volunteers.service.references import check_occasion
from shared.audit import CREATE, log_writes_raw
from shared.db import raw_connection
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.records import IdInUse, TransitionNotAllowed, Vault, replay, save_new, touch
from shared.repository import get_live
from shared.principals import Principal
from shared.review import Review
from shared.scope import live_row_in
from shared.stations import resolve_station

MAX_HOURS_A_DAY = Decimal(24)
SERVICE_FIELDS = ("activity_kind", "activity_ref", "activity_title", "served_on", "ends_on", "start_time", "end_time",
                  "hours", "content")

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    # Confirming a disputed record upholds it after review; the dispute stays in the history.
    "confirm": (frozenset({"recorded", "disputed"}), "confirmed"),
    "dispute": (frozenset({"recorded", "confirmed", "corrected"}), "disputed"),
    "correct": (frozenset({"recorded", "confirmed", "disputed", "corrected"}), "corrected"),
}


def allowed_actions(status: str) -> list[str]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def settle(values: dict) -> dict:
    """Check one version of the service fields and derive hours from the times when not given;
    `ends_on` defaults to the day the shift starts."""
    start, end, hours = values.get("start_time"), values.get("end_time"), values.get("hours")
    served_on = values["served_on"]
    ends_on = values.get("ends_on") or served_on
    shifts.check_days(served_on, ends_on, start, end)
    if (start is None) != (end is None):
        raise InvalidInput.field("end_time" if end is None else "start_time", "Give both start and end time, "
                                 "or neither.", "missing")
    if start is not None:
        minutes = shifts.span_minutes(served_on, ends_on, start, end)
        if minutes <= 0:
            raise InvalidInput.field("end_time", "The end is not after the start (a shift past midnight ends on "
                                     "the next day: give ends_on).", "end_before_start")
        span = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
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
    return {**values, "ends_on": ends_on, "activity_kind": kind, "hours": hours}


OVER_24 = "over_24_a_day"


async def _day_totals(session: AsyncSession, volunteer_id: str, days, exclude_id: str | None = None
                      ) -> dict[date, Decimal]:
    """Hours of the volunteer's live records on each of `days`, at any station: a shift past
    midnight adds its part to each day it covers."""
    # A shift starting the day before may reach into the first of these days.
    others = await repo.live_records_between(session, volunteer_id, min(days) - timedelta(days=1), max(days),
                                             exclude_id=exclude_id)
    return {day: sum((shifts.by_day(r).get(day, Decimal(0)) for r in others), Decimal(0)) for day in days}


async def _check_day_total(session: AsyncSession, record_id: str | None, volunteer_id: str, values: dict,
                           review: Review) -> None:
    mine = shifts.by_day(values)
    _day_rule(mine, await _day_totals(session, volunteer_id, mine, exclude_id=record_id), review)


def _day_rule(mine: dict[date, Decimal], already: dict[date, Decimal], review: Review) -> None:
    """A soft rule: more than 24 hours on a day means some record of that day is wrong, maybe
    another tablet's; a person decides which. `mine`: a record's hours by day; `already`: the
    volunteer's other records' on those days."""
    over = [(day, already[day]) for day, hours in sorted(mine.items()) if already[day] + hours > MAX_HOURS_A_DAY]
    day, before = over[0] if over else (min(mine), Decimal(0))
    review.rule(bool(over), "hours", f"The volunteer would have more than 24 hours on {day.isoformat()} "
                f"({before} already recorded).", OVER_24)


async def _settle_days(session: AsyncSession, principal: Principal, volunteer_id: str, days: set[date],
                       written: ServiceHours | None) -> None:
    """Once the volunteer's days are back within 24 hours, no record of them stays flagged for it
    (whichever record was corrected), each flag cleared as a write of its record."""
    flagged = await repo.flagged_between(session, volunteer_id, min(days) - timedelta(days=1), max(days), OVER_24)
    for record in flagged:
        its_days = shifts.by_day(record)
        if record is written or not set(its_days) & days:
            continue
        if any(total > MAX_HOURS_A_DAY for total in (await _day_totals(session, volunteer_id, its_days)).values()):
            continue
        review = Review()
        review.holds(OVER_24)
        touch(record, principal, record.version)
        review.apply(record)


def _snapshot(record: ServiceHours) -> dict:
    return {k: (v.isoformat() if isinstance(v, (date, time)) else float(v) if isinstance(v, Decimal) else v)
            for k in SERVICE_FIELDS for v in (getattr(record, k),)}


def _remember(session: AsyncSession, record: ServiceHours, action: str, principal: Principal,
              note: str | None = None) -> None:
    session.add(ServiceHoursVersion(hours_id=record.id, version=record.version, action=action, status=record.status,
                                    snapshot=_snapshot(record), note=note, by=principal.user_id))


async def create(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal, body: HoursCreate,
                 review: Review | None = None) -> tuple[ServiceHours, bool]:
    """`review`: how the soft rules are met (refused by default; a tablet's push flags them). Records are
    created by the lean path below (REST and sync); this ORM path is the reference it is tested against
    (tests/volunteers/test_lean_writes.py)."""
    review = review or Review()
    digest = vault.digest("service_hours", body)
    if (existing := await replay(session, ServiceHours, body.id, digest, principal)) is not None:
        return existing, False
    volunteer = await get_live(session, Volunteer, body.volunteer_id, principal, for_update=True)
    if volunteer is None:
        raise unknown("volunteer_id", "volunteer")
    station_id, station_path = await _organiser(session, principal, body)
    values = settle(body.model_dump(include=set(SERVICE_FIELDS)))
    await check_occasion(asker, values["activity_kind"], values.get("activity_ref"))
    await _check_day_total(session, None, volunteer.id, values, review)
    record = ServiceHours(**_new_values(principal, body, volunteer.id, station_id, station_path, digest, values))
    review.apply(record)
    await save_new(session, record)
    _remember(session, record, "record", principal)
    rollup = Rollup()
    rollup.hours(record, +1)
    await rollup.write(session)
    return record, True


def _new_values(principal: Principal, body: HoursCreate, volunteer_id: str, station_id: int, station_path: str,
                digest: str, values: dict) -> dict:
    """The columns of a record made from a create body: the ORM path's and the lean path's one rule."""
    return {"id": body.id or new_id(), "volunteer_id": volunteer_id, "team_id": body.team_id,
            "station_id": station_id, "station_path": station_path, "status": "recorded", "create_digest": digest,
            "created_by": principal.user_id, "updated_by": principal.user_id, "version": 1, **values}


class _Made(SimpleNamespace):
    """A record the lean path makes, as the counting rules and the history snapshot read it."""


async def create_many(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal,
                      new: list[HoursCreate], *, review: Callable[[], Review] = Review,
                      named: Callable[[int, Exception], Exception] = lambda i, exc: exc) -> list[tuple[str, bool]]:
    """The lean path of `create`, for one record or many (a tablet's push) at once, with the same checks and
    effects, each record as if created after the ones before it: idempotent client ids, the volunteer live
    in the caller's subtree (locked), the organising team or station, the shift's own checks (`settle`), the
    activity or session it names, the 24-hours-a-day soft rule (the records before it in the batch
    included), the history entry, the audit row, and the rollups (daily_stat, through its trigger
    ancestor_stat; served_day), summed over all the records and written once.

    `named(i, exc)`: the error of the i-th record as the caller reports it. Answers (id, created) per
    record; a retried create is (id, False)."""
    conn = await raw_connection(session)
    existing = await repo.claim_ids(conn, [body.id for body in new if body.id])
    volunteers = await repo.lock_volunteers(conn, principal, [body.volunteer_id for body in new])
    made: dict[str, str] = {}  # id -> digest, of the records made here
    places: dict[tuple, tuple[int, str]] = {}  # (team id, station id) -> the organising station
    answers, rows, checked = [], [], []
    for i, body in enumerate(new):
        digest = vault.digest("service_hours", body)
        if body.id is not None and (body.id in existing or body.id in made):
            # shared.records.replay's rule: the same id and body is the record made already.
            found = existing.get(body.id)
            same = (made[body.id] == digest if found is None
                    else live_row_in(_Made(**found), principal) and found["create_digest"] == digest)
            if not same:
                raise named(i, IdInUse())
            answers.append((body.id, False))
            continue
        try:
            if body.volunteer_id not in volunteers:
                raise unknown("volunteer_id", "volunteer")
            place = (body.team_id, body.station_id)
            if place not in places:
                places[place] = await _organiser(session, principal, body)
            values = settle(body.model_dump(include=set(SERVICE_FIELDS)))
            await check_occasion(asker, values["activity_kind"], values.get("activity_ref"))
        except Exception as exc:
            raise named(i, exc) from None
        record = _new_values(principal, body, body.volunteer_id, *places[place], digest, values)
        made[record["id"]] = digest
        rows.append(record)
        checked.append(i)
        answers.append((record["id"], True))
    if not rows:
        return answers
    days = [day for record in rows for day in shifts.by_day(record)]
    stored = await repo.shifts_between(conn, [r["volunteer_id"] for r in rows], min(days) - timedelta(days=1),
                                       max(days))
    shifts_of: dict[str, list[dict]] = {}  # volunteer id -> their live records, stored and made before
    for r in stored:
        shifts_of.setdefault(r["volunteer_id"], []).append(r)
    rollup, versions = Rollup(), []
    for i, record in zip(checked, rows, strict=True):
        mine = shifts.by_day(record)
        # What `_day_totals` reads for this record: the volunteer's live records starting from the day before
        # its first day to its last, the stored ones and those made before it here.
        theirs = shifts_of.setdefault(record["volunteer_id"], [])
        others = [r for r in theirs if min(mine) - timedelta(days=1) <= r["served_on"] <= max(mine)]
        theirs.append(record)
        rule = review()
        try:
            _day_rule(mine, {day: sum((shifts.by_day(r).get(day, Decimal(0)) for r in others), Decimal(0))
                             for day in mine}, rule)
        except Exception as exc:
            raise named(i, exc) from None
        record["review"] = rule.new_flags()
        made_record = _Made(**record, deleted_at=None)
        rollup.hours(made_record, +1)
        versions.append((record["id"], 1, "record", "recorded", _snapshot(made_record), principal.user_id))
    await repo.insert_many(conn, rows, versions)
    await log_writes_raw(session, conn, AuditLog, CREATE, ServiceHours.__tablename__,
                         [(r["id"], r["station_path"]) for r in rows])
    await rollup.write_raw(conn)
    return answers


async def _organiser(session: AsyncSession, principal: Principal, body: HoursCreate) -> tuple[int, str]:
    """The station that organised a record: its team's, or the one given (the caller's by default)."""
    if body.team_id:
        team = await get_live(session, Team, body.team_id, principal)
        if team is None:
            raise unknown("team_id", "team")
        return team.station_id, team.station_path
    return await resolve_station(session, Station, principal, body.station_id)


async def correct(session: AsyncSession, asker: Asker, principal: Principal, record: ServiceHours,
                  body: CorrectionInput, expected_version: int | None, review: Review | None = None) -> ServiceHours:
    """The organiser's correction: a new activity or session it names must be one the caller can see."""
    changes = body.model_dump(exclude_unset=True, include={"activity_kind", "activity_ref"})
    kind = changes.get("activity_kind", record.activity_kind) or "free_text"
    ref = changes.get("activity_ref", record.activity_ref)
    if (kind, ref) != (record.activity_kind, record.activity_ref):
        await check_occasion(asker, kind, ref)
    return await act(session, principal, record, "correct", body, expected_version, review)


async def act(session: AsyncSession, principal: Principal, record: ServiceHours, action: str,
              body: ConfirmInput | DisputeInput | CorrectionInput, expected_version: int | None,
              review: Review | None = None) -> ServiceHours:
    """One lifecycle step; counts and the volunteer's certified hours follow the record."""
    review = review or Review()
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
    days = set(shifts.by_day(record))
    if action == "correct":
        changes = body.model_dump(exclude_unset=True, exclude={"reason"})
        if "served_on" in changes and "ends_on" not in changes:
            # A shift moved to another day moves whole: it still ends as many days after it starts.
            changes["ends_on"] = changes["served_on"] + (record.ends_on - record.served_on)
        if changes.get("activity_kind") == "free_text":
            changes.setdefault("activity_ref", None)  # no longer served at an activity
        values = settle({**{k: getattr(record, k) for k in SERVICE_FIELDS}, **changes})
        await _check_day_total(session, record.id, record.volunteer_id, values, review)
        for key, value in values.items():
            setattr(record, key, value)
        review.apply(record)
    if action == "dispute":
        record.dispute_reason = body.reason
    record.status = target
    rollup.hours(record, +1)
    await rollup.write(session)
    if volunteer is not None:
        volunteer.certified_hours += certified_hours(record) - before
    _remember(session, record, action, principal, note)
    if action == "correct":
        await session.flush()
        await _settle_days(session, principal, record.volunteer_id, days | set(shifts.by_day(record)), record)
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
    await session.flush()
    await _settle_days(session, principal, record.volunteer_id, set(shifts.by_day(record)), record)
