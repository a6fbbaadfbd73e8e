"""/v1/beneficiaries/{beneficiary_id}/visits: visits (探访) of a person, outside any case, and the one
step from a visit that found a need to a case (`open-case`)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import (BeneficiaryDep, BeneficiaryForUpdateDep, IdReaderDep, IdWriterDep, IfMatchDep,
                                 ReadSessionDep, VaultDep, WriteSessionDep)
from services.cases.models import Beneficiary, Case, Visit
from services.cases.schemas.cases import CaseRead
from services.cases.schemas.visits import OpenCaseInput, VisitCreate, VisitRead, VisitUpdate
from services.cases.service import visits as service
from shared.audit import log_reads
from shared.contracts.lookup.client import AskerDep
from shared.etag import set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import Principal
from shared.records import RecordNotFound, shown, withhold
from shared.repository import get_live, live, page

router = APIRouter(prefix="/v1/beneficiaries/{beneficiary_id}/visits", tags=["visits"])
TABLE = Visit.__table__


async def _visit(session, beneficiary: Beneficiary, visit_id: str, principal: Principal,
                 for_update: bool = False) -> Visit:
    visit = await get_live(session, Visit, visit_id, principal, for_update=for_update,
                           where=(Visit.beneficiary_id == beneficiary.id,))
    if visit is None:
        raise RecordNotFound("visit")
    return visit


@router.get("", response_model=Page[VisitRead])
async def list_visits(beneficiary: BeneficiaryDep, principal: IdReaderDep, session: ReadSessionDep,
                      request: Request, paging: Annotated[PageParams, Depends(page_params)],
                      from_on: Annotated[date | None, Query(alias="from")] = None,
                      to_on: Annotated[date | None, Query(alias="to")] = None) -> dict:
    """The person's visits, latest first."""
    stmt = live(Visit, principal).where(Visit.beneficiary_id == beneficiary.id)
    if from_on:
        stmt = stmt.where(Visit.visited_on >= from_on)
    if to_on:
        stmt = stmt.where(Visit.visited_on <= to_on)
    rows = await page(session, stmt, paging, [Visit.visited_on, Visit.id])
    await log_reads(request, TABLE.name, [(v.id, v.station_path) for v in rows[:paging.limit]])
    return make_page(rows, paging, ["visited_on", "id"], shown(VisitRead, TABLE, principal))


@router.post("", response_model=VisitRead, status_code=status.HTTP_201_CREATED)
async def record_visit(body: VisitCreate, beneficiary: BeneficiaryForUpdateDep, principal: IdWriterDep,
                       session: WriteSessionDep, vault: VaultDep, response: Response) -> VisitRead:
    """Record a visit (home visit, phone or video) without opening a case (a client id makes retries safe)."""
    visit, created = await service.create(session, vault, principal, beneficiary, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, visit.version)
    response.headers["Location"] = f"/v1/beneficiaries/{beneficiary.id}/visits/{visit.id}"
    return withhold(VisitRead.model_validate(visit), TABLE, principal)


@router.get("/{visit_id}", response_model=VisitRead)
async def get_visit(visit_id: str, beneficiary: BeneficiaryDep, principal: IdReaderDep, session: ReadSessionDep,
                    request: Request, response: Response) -> VisitRead:
    """One visit."""
    visit = await _visit(session, beneficiary, visit_id, principal)
    await log_reads(request, TABLE.name, [(visit.id, visit.station_path)])
    set_etag(response, visit.version)
    return withhold(VisitRead.model_validate(visit), TABLE, principal)


@router.patch("/{visit_id}", response_model=VisitRead)
async def update_visit(visit_id: str, body: VisitUpdate, beneficiary: BeneficiaryForUpdateDep, version: IfMatchDep,
                       principal: IdWriterDep, session: WriteSessionDep, response: Response) -> VisitRead:
    """Change a visit (If-Match required)."""
    visit = await _visit(session, beneficiary, visit_id, principal, for_update=True)
    await service.update(session, principal, visit, version, body)
    set_etag(response, visit.version)
    return withhold(VisitRead.model_validate(visit), TABLE, principal)


@router.delete("/{visit_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_visit(visit_id: str, beneficiary: BeneficiaryForUpdateDep, version: IfMatchDep,
                       principal: IdWriterDep, session: WriteSessionDep) -> Response:
    """Remove a visit (soft delete; If-Match required)."""
    visit = await _visit(session, beneficiary, visit_id, principal, for_update=True)
    await service.delete(session, principal, visit, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{visit_id}/open-case", response_model=CaseRead, status_code=status.HTTP_201_CREATED)
async def open_case_from_visit(visit_id: str, body: OpenCaseInput, beneficiary: BeneficiaryForUpdateDep,
                               principal: IdWriterDep, session: WriteSessionDep, vault: VaultDep, asker: AskerDep,
                               response: Response) -> CaseRead:
    """Open a case at intake for the visited person, linked to the visit, which is marked as needing follow-up."""
    visit = await _visit(session, beneficiary, visit_id, principal, for_update=True)
    case, created = await service.open_case(session, vault, asker, principal, visit, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, case.version)
    response.headers["Location"] = f"/v1/cases/{case.id}"
    return withhold(CaseRead.model_validate(case), Case.__table__, principal)
