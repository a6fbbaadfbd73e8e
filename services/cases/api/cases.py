from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.deps import (CaseDep, DefaultStepsDep, CaseForUpdateDep, IdReaderDep, IdWriterDep, IfMatchDep,
                                 ReadSessionDep, SubtreeDep, VaultDep, WriteSessionDep, read_pool)
from services.cases.errors import CaseNotFound
from services.cases.models import Case
from services.cases.repository import by_id
from services.cases.repository import cases as repo
from services.cases.schemas.cases import (CaseCreate, CaseEventList, CaseEventRead, CaseRead, CaseStatus, CaseUpdate,
                                          CloseInput, TransitionInput)
from services.cases.schemas.common import RiskLevel
from services.cases.service import cases as service
from shared.audit import log_reads, read_actor
from shared.etag import OptionalIfMatchDep, set_etag
from shared.contracts.lookup.client import AskerDep
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalWriterOr403, Principal
from shared.records import shown, withhold
from shared.repository import page

router = APIRouter(prefix="/v1/cases", tags=["cases"])
ORDER = [Case.opened_on, Case.id]
# A step that needs a supervisor's approval is submitted, not taken (service/approvals.py).
SUBMITTED = {202: {"model": CaseRead, "description": "Submitted for a supervisor's approval: the case shows it as "
                                                     "`pending_step` and keeps its status"}}
TABLE = Case.__table__


@router.get("", response_model=Page[CaseRead])
async def list_cases(
    principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep, request: Request,
    paging: Annotated[PageParams, Depends(page_params)],
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    worker_id: Annotated[str | None, Query(max_length=64)] = None,
    beneficiary_id: Annotated[str | None, Query(max_length=64)] = None,
    population: Annotated[str | None, Query(max_length=40)] = None,
    risk_level: RiskLevel | None = None,
    opened_from: Annotated[date | None, Query(alias="from")] = None,
    opened_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict:
    """Cases of your subtree, most recently opened first."""
    stmt = repo.list_query(principal, station_path=subtree, status=status_, worker_id=worker_id,
                           beneficiary_id=beneficiary_id, population=population, risk_level=risk_level,
                           opened_from=opened_from, opened_to=opened_to)
    rows = await page(session, stmt, paging, ORDER)
    await log_reads(request, "case", [(c.id, c.station_path) for c in rows[:paging.limit]])
    return make_page(rows, paging, ["opened_on", "id"], shown(CaseRead, TABLE, principal))


@router.post("", response_model=CaseRead, status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseCreate, principal: PersonalWriterOr403, session: WriteSessionDep, vault: VaultDep,
                    asker: AskerDep, response: Response) -> CaseRead:
    """Open a case at intake (接案) for a registered beneficiary, optionally under a project covering its station."""
    case, created = await service.create(session, vault, asker, principal, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, case.version)
    response.headers["Location"] = f"/v1/cases/{case.id}"
    return withhold(CaseRead.model_validate(case), TABLE, principal)


@router.get("/{case_id}", response_model=CaseRead)
async def get_case(case_id: str, principal: IdReaderDep, request: Request, response: Response) -> CaseRead:
    """One case."""
    row = await by_id.case(read_pool(request), case_id, principal, read_actor(request))
    if row is None:
        raise CaseNotFound()
    set_etag(response, row["version"])
    return withhold(CaseRead.model_validate(row), TABLE, principal)


@router.patch("/{case_id}", response_model=CaseRead)
async def update_case(body: CaseUpdate, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                      asker: AskerDep, response: Response) -> CaseRead:
    """Change a case's title, problem, risk level, worker or project (If-Match required)."""
    await service.update(asker, principal, case, version, body)
    set_etag(response, case.version)
    return withhold(CaseRead.model_validate(case), TABLE, principal)


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_case(case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                      session: WriteSessionDep) -> Response:
    """Remove a case and its records (soft delete; If-Match required); its counts are taken back."""
    await service.delete(session, principal, case, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{case_id}/events", response_model=CaseEventList)
async def case_history(case: CaseDep, session: ReadSessionDep, principal: IdReaderDep,
                       request: Request) -> CaseEventList:
    """The case's lifecycle steps, oldest first."""
    events = await service.history(session, case)
    await log_reads(request, "case_event", [(e.id, e.station_path) for e in events])
    return CaseEventList(items=[CaseEventRead(id=e.id, action=e.action, from_status=e.from_status,
                                              to_status=e.to_status, occurred_on=e.occurred_on, at=e.created_at,
                                              by=e.created_by, reason=e.reason,
                                              note=e.note if principal.may_read_sensitive else None)
                                for e in events])


async def _transition(action: str, body: TransitionInput | None, case: Case, principal: Principal,
                      session: AsyncSession, version: int | None, response: Response, steps: list[str]) -> CaseRead:
    if await service.transition(session, principal, case, action, body or TransitionInput(), version, steps):
        response.status_code = status.HTTP_202_ACCEPTED
    set_etag(response, case.version)
    return withhold(CaseRead.model_validate(case), TABLE, principal)


@router.post("/{case_id}/assess", response_model=CaseRead, responses=SUBMITTED)
async def case_assess(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                      version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                      body: TransitionInput | None = None) -> CaseRead:
    """Move from intake to assessment (预估)."""
    return await _transition("assess", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/plan", response_model=CaseRead, responses=SUBMITTED)
async def case_plan(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                    version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                    body: TransitionInput | None = None) -> CaseRead:
    """Move from assessment to planning (计划)."""
    return await _transition("plan", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/intervene", response_model=CaseRead, responses=SUBMITTED)
async def case_intervene(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                         version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                         body: TransitionInput | None = None) -> CaseRead:
    """Move from planning to intervention (介入)."""
    return await _transition("intervene", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/evaluate", response_model=CaseRead, responses=SUBMITTED)
async def case_evaluate(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                        version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                        body: TransitionInput | None = None) -> CaseRead:
    """Move from intervention to evaluation (评估)."""
    return await _transition("evaluate", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/close", response_model=CaseRead, responses=SUBMITTED)
async def case_close(body: CloseInput, case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                     version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep) -> CaseRead:
    """Close the case (结案) with a reason; early closure needs a reason other than completed."""
    return await _transition("close", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/follow-up", response_model=CaseRead)
async def case_follow_up(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                         version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                         body: TransitionInput | None = None) -> CaseRead:
    """Start follow-up (跟进) of a closed case."""
    return await _transition("follow-up", body, case, principal, session, version, response, steps)


@router.post("/{case_id}/reopen", response_model=CaseRead)
async def case_reopen(case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                      version: OptionalIfMatchDep, response: Response, steps: DefaultStepsDep,
                      body: TransitionInput | None = None) -> CaseRead:
    """Reopen a closed case; it goes back to assessment."""
    return await _transition("reopen", body, case, principal, session, version, response, steps)
