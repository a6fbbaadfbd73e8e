"""Supervision records (督导记录): who may file one where, the cases it may name, and its figures
(supervision.sessions, supervision.hours, supervision.cases_reviewed, service/counting.py).

A supervisor files a session at a station assigned to them (repository/approvals.py, live as
for approvals) and is its supervisor; a station head, a worker or an administrator files one at a
station of their subtree for the supervisor who held it."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Station, SupervisionRecord
from services.cases.repository import approvals as repo
from services.cases.schemas.supervision import SupervisionCreate, SupervisionUpdate
from services.cases.service.counting import Rollup
from shared.errors import Forbidden, InvalidInput
from shared.models import new_id
from shared.principals import SUPERVISOR_ROLE, Principal
from shared.records import tombstone, touch
from shared.repository import save
from shared.stations import resolve_station


def check_writer(principal: Principal) -> None:
    if principal.role != SUPERVISOR_ROLE and not principal.may_write_personal:
        raise Forbidden("This role cannot record supervision.")


async def _station(session: AsyncSession, principal: Principal, station_id: int | None) -> tuple[int, str]:
    if principal.role != SUPERVISOR_ROLE:
        return await resolve_station(session, Station, principal, station_id)
    found = None if station_id is None else await repo.assigned_station(session, principal, station_id)
    if found is None:
        raise InvalidInput.field("station_id", "Name a station assigned to you.", "unknown_station")
    return found


def _check_shape(mode: str, worker_ids: list[str]) -> None:
    if mode == "individual" and len(worker_ids) != 1:
        raise InvalidInput.field("worker_ids", "Individual supervision is with one worker.", "individual")


async def _check_cases(session: AsyncSession, station_path: str, case_ids: list[str]) -> None:
    missing = set(case_ids) - await repo.live_cases_under(session, station_path, case_ids)
    if missing:
        raise InvalidInput.field("case_ids", "No such case at this station: name cases of the station's subtree.",
                                 "unknown_case")


async def create(session: AsyncSession, principal: Principal, body: SupervisionCreate) -> SupervisionRecord:
    check_writer(principal)
    if principal.role == SUPERVISOR_ROLE:
        supervisor_id = principal.user_id
    elif body.supervisor_id is None:
        raise InvalidInput.field("supervisor_id", "Name the supervisor who held the session.", "missing")
    else:
        supervisor_id = body.supervisor_id
    station_id, station_path = await _station(session, principal, body.station_id)
    _check_shape(body.mode, body.worker_ids)
    await _check_cases(session, station_path, body.case_ids)
    record = SupervisionRecord(id=new_id(), station_id=station_id, station_path=station_path, held_on=body.held_on,
                               supervisor_id=supervisor_id, worker_ids=body.worker_ids, mode=body.mode,
                               duration_minutes=body.duration_minutes, topics=body.topics, case_ids=body.case_ids,
                               notes=body.notes, created_by=principal.user_id, updated_by=principal.user_id,
                               version=1)
    await save(session, record)
    rollup = Rollup()
    rollup.supervision(record, +1)
    await rollup.write(session)
    return record


async def update(session: AsyncSession, principal: Principal, record: SupervisionRecord, expected_version: int,
                 body: SupervisionUpdate) -> SupervisionRecord:
    check_writer(principal)
    fields = body.changes()
    _check_shape(fields.get("mode", record.mode), fields.get("worker_ids", record.worker_ids))
    if "case_ids" in fields:
        await _check_cases(session, record.station_path, fields["case_ids"])
    touch(record, principal, expected_version)
    rollup = Rollup()
    rollup.supervision(record, -1)
    for key, value in fields.items():
        setattr(record, key, value)
    rollup.supervision(record, +1)
    await rollup.write(session)
    return record


async def delete(session: AsyncSession, principal: Principal, record: SupervisionRecord,
                 expected_version: int) -> None:
    check_writer(principal)
    tombstone(record, principal, expected_version)
    rollup = Rollup()
    rollup.supervision(record, -1)
    await rollup.write(session)

