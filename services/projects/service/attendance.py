"""Named attendance of group sessions and activities, one attendee at a time or a whole list.

Attendee ids are checked with the casework service (through the gateway, as the caller) before
anything is written; their populations are copied onto the row for counting. Recording the same
person twice for one occasion answers the row already there.

Adding attendees has two paths with one set of rules: `add_many`, the lean one (prepared statements,
one per step for any number of attendees: REST's one attendee and a tablet's push), and `add_one`, the
ORM one, which `replace` shares its steps with and which tests/projects/test_lean_writes.py holds the
lean one to.
"""

from collections.abc import Callable
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.errors import UnknownAttendees
from services.projects.models import Attendance, AuditLog, GroupSession
from services.projects.repository import attendance as repo
from services.projects.schemas.work import AttendanceBatch, AttendeeInput
from services.projects.service import references
from services.projects.service.counting import Rollup
from services.projects.service.references import Found
from shared.audit import CREATE, UPDATE, log_writes_raw
from shared.contracts.lookup.client import Asker
from shared.db import raw_connection
from shared.models import new_id
from shared.principals import Principal
from shared.records import IdInUse, RecordNotFound
from shared.repository import UniqueViolation, get_any, save
from shared.stats import Metric


def column(occasion) -> str:
    """The attendance column naming the occasion: an ORM GroupSession or Activity, or a repository OccasionRow."""
    return occasion.attendance_column


async def check(asker: Asker, ids: list[str], fields: list[str]) -> dict[str, Found]:
    """The beneficiaries behind `ids`; a 422 naming every field whose id is not one in the caller's scope."""
    if not ids:
        return {}
    return await references.beneficiaries(asker, ids, fields)


def _values(occasion, principal: Principal, beneficiary: Found, row_id: str | None) -> dict:
    """The columns of a new attendance: the ORM path's and the lean path's one rule."""
    return {"id": row_id or new_id(), "station_id": occasion.station_id, "station_path": occasion.station_path,
            "beneficiary_id": beneficiary.id, "populations": list(beneficiary.populations),
            "person_no": beneficiary.person_no, "created_by": principal.user_id, "updated_by": principal.user_id,
            "version": 1, "session_id": None, "activity_id": None, column(occasion): occasion.id}


def _row(occasion, principal: Principal, beneficiary: Found, row_id: str | None) -> Attendance:
    return Attendance(**_values(occasion, principal, beneficiary, row_id))


def _kept_values(kept, pushed_id: str, principal: Principal, now: datetime) -> dict:
    """A pushed attendance of a person another writer recorded at the same occasion first: the person
    counts once, on the row already there (`kept`). The pushed id is kept as a tombstone (no count moves:
    it is deleted), so the tablet's next pull tells it to drop its copy and the two converge."""
    return {"id": pushed_id, "station_id": kept.station_id, "station_path": kept.station_path,
            "session_id": kept.session_id, "activity_id": kept.activity_id, "beneficiary_id": kept.beneficiary_id,
            "populations": list(kept.populations), "person_no": kept.person_no, "created_by": principal.user_id,
            "updated_by": principal.user_id, "version": 1, "deleted_at": now}


async def keep_pushed_id(session: AsyncSession, principal: Principal, kept: Attendance, pushed_id: str) -> None:
    """`_kept_values`, by the ORM (a push's one-by-one create)."""
    await save(session, Attendance(**_kept_values(kept, pushed_id, principal, datetime.now(timezone.utc))))


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


async def add_many(session: AsyncSession, asker: Asker, principal: Principal, new: list[tuple[repo.OccasionRow, AttendeeInput]],
                   *, keep_pushed_ids: bool = False, named: Callable[[int, Exception], Exception] = lambda i, exc: exc,
                   answer: bool = False) -> list[tuple[str, bool, dict | None]]:
    """The lean path of `add_one`, for one attendee or many (a tablet's push) at once, with the same checks
    and effects, each attendee as if added after the ones before it: a person already attending answers the
    row there; a client id some other row has is 409; the attendee must be a beneficiary the caller can see
    (422 naming `beneficiary_id`); the occasion's named count and version move, the audit rows and the
    rollups (daily_stat, through its trigger ancestor_stat; person_day) are written once for all.

    `new`: (occasion, attendee) pairs, the occasions locked already (repo.lock_occasions or the route's
    dependency). `keep_pushed_ids`: a client id naming a person already attending is kept as a tombstone
    (`_kept_values`, a push's rule). `named(i, exc)`: the error of the i-th attendee as the caller reports
    it. Answers (id of the row that counts, created, the row as read when `answer`) per pair."""
    conn = await raw_connection(session)
    attending = await repo.attending(conn, list(dict.fromkeys(
        (column(o), o.id, body.beneficiary_id) for o, body in new)))
    taken = await repo.claim_ids(conn, [body.id for _, body in new if body.id])
    made: dict[tuple, int] = {}  # (column, occasion, beneficiary) -> index in `new` of the attendee made
    made_ids: set[str] = set()
    for i, (occasion, body) in enumerate(new):
        key = (column(occasion), occasion.id, body.beneficiary_id)
        if key in attending or key in made:
            continue
        if body.id and (body.id in taken or body.id in made_ids):
            raise named(i, IdInUse())
        made[key] = i
        if body.id:
            made_ids.add(body.id)
    found = await references.beneficiaries_found(asker, list(dict.fromkeys(new[i][1].beneficiary_id
                                                                             for i in made.values())))
    rows: dict[int, dict] = {}
    for key, i in made.items():
        occasion, body = new[i]
        if body.beneficiary_id not in found:
            raise named(min(j for j in made.values() if new[j][1].beneficiary_id not in found),
                        UnknownAttendees(["beneficiary_id"]))
        rows[i] = _values(occasion, principal, found[body.beneficiary_id], body.id)
    if answer and len(new) == 1 and rows:
        read = await repo.insert_one(conn, rows[0])
        if read is None:  # a concurrent writer recorded the person first: its row answers
            again = await repo.attending(conn, list(made))
            if not again:
                raise IdInUse()
            read = next(iter(again.values()))
            return [(read["id"], False, read)]
        await _added(session, conn, principal, new, rows)
        return [(read["id"], True, read)]
    now = datetime.now(timezone.utc)
    kept = []
    answers = []
    for i, (occasion, body) in enumerate(new):
        key = (column(occasion), occasion.id, body.beneficiary_id)
        if i in rows:
            answers.append((rows[i]["id"], True, None))
            continue
        there = attending.get(key) or rows[made[key]]
        answers.append((there["id"], False, there if answer else None))
        if keep_pushed_ids and body.id and body.id != there["id"] and body.id not in taken | made_ids:
            kept.append(_kept_values(SimpleNamespace(**{**there, "station_id": occasion.station_id,
                                                        "station_path": occasion.station_path}),
                                     body.id, principal, now))
            made_ids.add(body.id)
    if rows or kept:
        await repo.insert_many(conn, [*rows.values(), *kept])
    if rows:
        await _added(session, conn, principal, new, rows)
    if kept:
        await log_writes_raw(session, conn, AuditLog, CREATE, "attendance", [(v["id"], v["station_path"]) for v in kept])
    return answers


async def _added(session: AsyncSession, conn, principal: Principal, new: list, rows: dict[int, dict]) -> None:
    """What attendees added by the lean path move: their occasions, the audit rows, the rollups."""
    added: dict[tuple[str, str], int] = {}
    occasions = {}
    rollup = Rollup()
    for i, values in rows.items():
        occasion = new[i][0]
        added[(column(occasion), occasion.id)] = added.get((column(occasion), occasion.id), 0) + 1
        occasions[(column(occasion), occasion.id)] = occasion
        rollup.attendee(occasion, SimpleNamespace(**values), +1)
    await repo.touch_occasions(conn, principal.user_id, added)
    for record in list(session.identity_map.values()):
        if (getattr(record, "attendance_column", None), getattr(record, "id", None)) in added:
            # Loaded by the ORM before (a route's dependency, a push's earlier writes): read again if used.
            session.expire(record)
    await log_writes_raw(session, conn, AuditLog, CREATE, "attendance",
                         [(v["id"], v["station_path"]) for v in rows.values()])
    for model_column, model in repo.MODELS.items():
        await log_writes_raw(session, conn, AuditLog, UPDATE, model.__tablename__,
                             [(o.id, o.station_path) for (c, _), o in occasions.items() if c == model_column])
    await rollup.write_raw(conn)


async def replace(session: AsyncSession, asker: Asker, principal: Principal, occasion,
                  batch: AttendanceBatch, *, field: str = "attendees", lean: bool = True) -> list[Attendance]:
    """Make the named attendees exactly `batch.attendees` (and the headcount, when given). The new ones are
    written by the lean path (`insert_new`); `lean=False`: one by one by the ORM, the reference
    tests/projects/test_lean_writes.py holds the lean one to."""
    current = {a.beneficiary_id: a for a in await repo.attendees(session, column(occasion), occasion.id,
                                                                 for_update=True)}
    wanted = listed(batch.attendees)
    new = [(i, a) for b, (i, a) in wanted.items() if b not in current]
    found = await check(asker, [a.beneficiary_id for _, a in new], [listed_field(field, i) for i, _ in new])
    rollup = Rollup()
    now = datetime.now(timezone.utc)
    for beneficiary_id, row in current.items():
        if beneficiary_id not in wanted:
            row.deleted_at, row.updated_by, row.version = now, principal.user_id, row.version + 1
            rollup.attendee(occasion, row, -1)
    if lean:
        await insert_new(session, principal, [(occasion, a, found[a.beneficiary_id]) for _, a in new], rollup)
    for _, attendee in [] if lean else new:
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


def listed(attendees: list[AttendeeInput]) -> dict[str, tuple[int, AttendeeInput]]:
    """A list's attendees by person, each as the list first names them (index, attendee): a person listed
    twice is one attendee."""
    wanted: dict[str, tuple[int, AttendeeInput]] = {}
    for i, attendee in enumerate(attendees):
        wanted.setdefault(attendee.beneficiary_id, (i, attendee))
    return wanted


def listed_field(field: str, i: int) -> str:
    """The field naming the i-th attendee of a list in a body's `field` (an unknown person's 422)."""
    return f"{field}[{i}].beneficiary_id"


async def insert_new(session: AsyncSession, principal: Principal, new: list[tuple[object, AttendeeInput, Found]],
                     rollup: Rollup, *, named: Callable[[int, Exception], Exception] = lambda k, exc: exc) -> None:
    """New attendees of locked occasions, or of occasions made in this transaction (people not attending them),
    checked already, by the lean path's statements: their client ids held at once (409 when some other row has
    one), the rows in one round trip, their audit rows in one; their counts go to `rollup`. `new`: (occasion,
    attendee, the person) triples; `named(k, exc)`: the error of the k-th as the caller reports it."""
    if not new:
        return
    conn = await raw_connection(session)  # flushes the ORM's changes first (a list's removals)
    taken = await repo.claim_ids(conn, [attendee.id for _, attendee, _ in new if attendee.id])
    rows, ids = [], set()
    for k, (occasion, attendee, person) in enumerate(new):
        if attendee.id and (attendee.id in taken or attendee.id in ids):
            raise named(k, IdInUse())
        values = _values(occasion, principal, person, attendee.id)
        ids.add(values["id"])
        rows.append(values)
        rollup.attendee(occasion, SimpleNamespace(**values), +1)
    await repo.insert_many(conn, rows)
    await log_writes_raw(session, conn, AuditLog, CREATE, "attendance", [(v["id"], v["station_path"]) for v in rows])


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
    return (Metric.person_times_group if column(occasion) == GroupSession.attendance_column
            else Metric.person_times_community)


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
