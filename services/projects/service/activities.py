"""Community activities: counted per event, with their named participants and headcount.

Creating one has two paths with one set of rules: `create_many`, the lean one (prepared statements, one per
step for any number of activities: REST's one activity and a tablet's push), and `create`, the ORM one, which
tests/projects/test_lean_writes.py holds the lean one to. Updates and deletes are the ORM's: they are rare
beside creates, and move counts already stored (attendance.move, take_back).
"""

from collections.abc import Callable
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.errors import UnknownAttendees
from services.projects.models import Activity, AuditLog, Project
from services.projects.repository import activities as repo
from services.projects.repository.attendance import OccasionRow
from services.projects.schemas.work import ActivityCreate, ActivityUpdate, AttendanceBatch
from services.projects.service import attendance, references
from services.projects.service.counting import Rollup
from services.projects.service.groups import in_period, station_under
from shared.audit import CREATE, log_writes_raw
from shared.db import raw_connection
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.records import IdInUse, digest, replay, save_new, tombstone, touch
from shared.principals import Principal
from shared.scope import live_row_in


def _check_times(starts_at, ends_at) -> None:
    if starts_at and ends_at and ends_at < starts_at:
        raise InvalidInput.field("ends_at", "The activity cannot end before it starts.", "before_start")


def _new_volunteers(ids: list[str], kept: list[str]) -> dict[str, str]:
    """The volunteers among `ids` that the activity did not name already, each with the field first naming them:
    those must be volunteers the caller can see (one who has since left the caller's scope stays named)."""
    new: dict[str, str] = {}
    for i, volunteer_id in enumerate(ids):
        if volunteer_id not in kept:
            new.setdefault(volunteer_id, f"volunteer_ids[{i}]")
    return new


async def _volunteers(asker: Asker, ids: list[str], kept: list[str]) -> list[str]:
    """The activity's volunteers, once each, the new ones checked (`_new_volunteers`)."""
    new = _new_volunteers(ids, kept)
    await references.check_volunteers(asker, list(new), list(new.values()))
    return list(dict.fromkeys(ids))


def _new_values(principal: Principal, body: ActivityCreate, station: tuple[int, str], create_digest: str) -> dict:
    """The columns of an activity made from a create body, its volunteers once each, before its participants
    and headcount are counted in: the ORM path's and the lean path's one rule."""
    fields = body.model_dump(exclude={"id", "station_id", "attendees", "anonymous_count"})
    fields["volunteer_ids"] = list(dict.fromkeys(fields["volunteer_ids"]))
    return {"id": body.id or new_id(), "station_id": station[0], "station_path": station[1], "anonymous_count": 0,
            "named_count": 0, "create_digest": create_digest, "created_by": principal.user_id,
            "updated_by": principal.user_id, "version": 1, **fields}


async def create(session: AsyncSession, asker: Asker, principal: Principal,
                 project: Project, body: ActivityCreate) -> tuple[Activity, bool]:
    """The ORM path: the reference `create_many` (REST's and a push's path) is tested against."""
    create_digest = digest("activity", body)
    if (existing := await replay(session, Activity, body.id, create_digest, principal)) is not None:
        return existing, False
    station = await station_under(session, principal, project, body.station_id)
    in_period(project, body.held_on, "held_on")
    _check_times(body.starts_at, body.ends_at)
    await _volunteers(asker, body.volunteer_ids, [])
    record = Activity(**_new_values(principal, body, station, create_digest))
    await save_new(session, record)
    rollup = Rollup()
    rollup.activity(record, +1)
    await rollup.write(session)
    # An unknown attendee fails the whole request: the request's transaction is rolled back.
    await attendance.replace(session, asker, principal, record,
                             AttendanceBatch(attendees=body.attendees, anonymous_count=body.anonymous_count))
    record.version = 1
    return record, True


class _Made(SimpleNamespace):
    """A row the lean path reads or makes, as the scope and counting rules read a record."""


async def create_many(session: AsyncSession, asker: Asker, principal: Principal,
                      new: list[tuple[Project, ActivityCreate]], *,
                      named: Callable[[int, Exception], Exception] = lambda i, exc: exc,
                      answer: bool = False) -> list[tuple[str, bool, dict | None]]:
    """The lean path of `create`, for one activity or many (a tablet's push) at once, with the same checks and
    effects, each activity as if created after the ones before it: idempotent client ids, the station (in the
    caller's scope and the project's), the project's period, the times, the volunteers and the participants
    the caller can see (one lookup each for the whole batch; 422 naming the field), the sealed notes, the
    participants' rows (attendance.insert_new), the audit rows, and the rollups (daily_stat, through its
    trigger ancestor_stat; person_day), summed over all the activities and written once.

    `new`: (project, validated create body) pairs, each project one the caller may file under
    (groups.project_for_work's rule). `named(i, exc)`: the error of the i-th activity as the caller reports
    it. Answers (id, created, the activity as read when `answer`) per pair; a retried create is (id, False, ...)."""
    conn = await raw_connection(session)
    existing = await repo.claim_ids(conn, [body.id for _, body in new if body.id])
    made: dict[str, str] = {}  # id -> digest, of the activities made here
    stations: dict[tuple[str, int | None], tuple[int, str]] = {}
    answers: list[tuple[str, bool, dict | None]] = []
    todo: dict[int, dict] = {}  # index in `new` -> the columns of the activity to make
    for i, (project, body) in enumerate(new):
        create_digest = digest("activity", body)
        if body.id is not None and (body.id in existing or body.id in made):
            # shared.records.replay's rule: the same id and body is the activity made already.
            found = existing.get(body.id)
            same = (made[body.id] == create_digest if found is None
                    else live_row_in(_Made(**found), principal) and found["create_digest"] == create_digest)
            if not same:
                raise named(i, IdInUse())
            answers.append((body.id, False, None))
            continue
        try:
            place = (project.id, body.station_id)
            if place not in stations:
                stations[place] = await station_under(session, principal, project, body.station_id)
            in_period(project, body.held_on, "held_on")
            _check_times(body.starts_at, body.ends_at)
        except Exception as exc:
            raise named(i, exc) from None
        todo[i] = _new_values(principal, body, stations[place], create_digest)
        made[todo[i]["id"]] = create_digest
        answers.append((todo[i]["id"], True, None))
    # The people named, asked about at once: the volunteers each activity names and its participants.
    volunteers = {i: _new_volunteers(new[i][1].volunteer_ids, []) for i in todo}
    people = {i: attendance.listed(new[i][1].attendees) for i in todo}
    known_volunteers = await references.volunteers_found(asker, list(dict.fromkeys(
        v for named_here in volunteers.values() for v in named_here)))
    known_people = await references.beneficiaries_found(asker, list(dict.fromkeys(
        b for listed in people.values() for b in listed)))
    rollup, rows, participants, owners = Rollup(), [], [], []
    for i, values in todo.items():
        if missing := [f for v, f in volunteers[i].items() if v not in known_volunteers]:
            raise named(i, references.unknown_volunteers(missing))
        if missing := [attendance.listed_field("attendees", k) for b, (k, _) in people[i].items()
                       if b not in known_people]:
            raise named(i, UnknownAttendees(missing))
        # Its headcount and participants as `attendance.replace` sets them on the ORM path.
        values["anonymous_count"], values["named_count"] = new[i][1].anonymous_count, len(people[i])
        rows.append(values)
        rollup.activity(_Made(**values), +1)
        occasion = OccasionRow(Activity.attendance_column, values["id"], values["station_id"], values["station_path"],
                               values["held_on"])
        for beneficiary_id, (_, attendee) in people[i].items():
            participants.append((occasion, attendee, known_people[beneficiary_id]))
            owners.append(i)
    if not rows:
        if answer and len(new) == 1:
            answers[0] = (answers[0][0], False, await repo.read_one(conn, answers[0][0]))
        return answers
    if answer and len(new) == 1:
        answers[0] = (rows[0]["id"], True, await repo.insert_one(conn, rows[0]))
    else:
        await repo.insert_many(conn, rows)
    await attendance.insert_new(session, principal, participants, rollup, named=lambda k, exc: named(owners[k], exc))
    await log_writes_raw(session, conn, AuditLog, CREATE, Activity.__tablename__,
                         [(values["id"], values["station_path"]) for values in rows])
    await rollup.write_raw(conn)
    return answers


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
