"""Visits (探访): a light record of seeing a person, counted as person_times.visit and in persons.
A visit that finds a need opens a case in one step (`open_case`)."""

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, Case, Visit
from services.cases.schemas.cases import CaseCreate
from services.cases.schemas.visits import OpenCaseInput, VisitCreate
from services.cases.service import cases as cases_service
from services.cases.service.counting import Rollup
from shared import clock
from shared.contracts.lookup.client import Asker
from shared.errors import Conflict
from shared.models import new_id
from shared.principals import Principal
from shared.records import Vault, replay, save_new, tombstone, touch
from shared.review import Review


def _stored(fields: dict) -> dict:
    if "needs" in fields:
        fields["needs"] = ",".join(fields["needs"] or []) or None
    return fields


async def create(session: AsyncSession, vault: Vault, principal: Principal, beneficiary: Beneficiary,
                 body: VisitCreate, review: Review | None = None,
                 at: tuple[int, str] | None = None) -> tuple[Visit, bool]:
    """`review`: how soft rules are met (a tablet's push flags them); visits have none of their own yet.
    `at` (station id, path): where the visit was given when that is not where the person is now (a
    tablet's visit of someone transferred away since); a visit stays where it was given."""
    digest = vault.digest("visit", body, beneficiary.id)
    if (existing := await replay(session, Visit, body.id, digest, principal)) is not None:
        return existing, False
    values = _stored(body.model_dump(exclude={"id"}))
    values["visited_on"] = values["visited_on"] or clock.today()
    values["worker_id"] = values["worker_id"] or principal.user_id
    station_id, station_path = at or (beneficiary.station_id, beneficiary.station_path)
    visit = Visit(id=body.id or new_id(), beneficiary_id=beneficiary.id, station_id=station_id,
                  station_path=station_path, populations=list(beneficiary.populations),
                  create_digest=digest, created_by=principal.user_id, updated_by=principal.user_id, version=1,
                  **values)
    await save_new(session, visit)
    rollup = Rollup()
    rollup.visit(visit, +1)
    await rollup.write(session)
    return visit, True


async def update(session: AsyncSession, principal: Principal, visit: Visit, expected_version: int,
                 body: BaseModel) -> Visit:
    fields = _stored(body.changes())
    touch(visit, principal, expected_version)
    rollup = Rollup()
    rollup.visit(visit, -1)
    for key, value in fields.items():
        setattr(visit, key, value)
    rollup.visit(visit, +1)
    await rollup.write(session)
    return visit


async def delete(session: AsyncSession, principal: Principal, visit: Visit, expected_version: int) -> None:
    tombstone(visit, principal, expected_version)
    rollup = Rollup()
    rollup.visit(visit, -1)
    await rollup.write(session)


class CaseAlreadyOpened(Conflict):
    type = "visit-case-opened"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"This visit already opened case {case_id}.")


async def open_case(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal, visit: Visit,
                    body: OpenCaseInput) -> tuple[Case, bool]:
    """Open a case at intake for the visited person, linked to the visit; a retry with the same case id
    answers the case already opened."""
    if visit.case_id is not None and visit.case_id != body.id:
        raise CaseAlreadyOpened(visit.case_id)
    create = CaseCreate(id=body.id, beneficiary_id=visit.beneficiary_id, title=body.title,
                        presenting_problem=body.presenting_problem, risk_level=body.risk_level)
    case, created = await cases_service.create(session, vault, asker, principal, create)
    if visit.case_id != case.id:
        touch(visit, principal, None)
        visit.case_id = case.id
        visit.follow_up = True
    return case, created
