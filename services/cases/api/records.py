"""/v1/cases/{case_id}/{assessments|plans|service-records|referrals|follow-ups}: the same five routes
for each kind of a case's record, each written out so that its path is found where it is served.
The bodies are shared (`_list`, `_create`...): one set of rules for all five kinds."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import (CaseDep, CaseForUpdateDep, CaseRowForRecordsDep, IdReaderDep, IdWriterDep,
                                 IfMatchDep, ReadSessionDep, VaultDep, WriteSessionDep, read_pool)
from services.cases.errors import CaseNotFound
from services.cases.models import Referral
from services.cases.repository import by_id
from services.cases.schemas import records as s
from services.cases.schemas.cases import TransitionInput
from services.cases.service import records as service
from services.cases.service.records import ASSESSMENTS, FOLLOW_UPS, PLANS, REFERRALS, SERVICE_RECORDS, RecordKind
from shared.audit import log_reads, read_actor
from shared.etag import OptionalIfMatchDep, set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import Principal
from shared.records import RecordNotFound, shown, withhold
from shared.repository import get_live, live, page

router = APIRouter(prefix="/v1/cases/{case_id}")

PagingDep = Annotated[PageParams, Depends(page_params)]
FromQuery = Annotated[date | None, Query(alias="from")]
ToQuery = Annotated[date | None, Query(alias="to")]
StatusQuery = Annotated[str | None, Query(alias="status", max_length=16)]
WorkerQuery = Annotated[str | None, Query(max_length=64)]


async def _load(kind: RecordKind, session, case, record_id: str, principal: Principal, for_update: bool = False):
    record = await get_live(session, kind.model, record_id, principal, for_update=for_update,
                            where=(kind.model.case_id == case.id,))
    if record is None:
        raise RecordNotFound(kind.name)
    return record


async def _list(kind: RecordKind, case, principal: Principal, session, request: Request, paging: PageParams,
                from_on: date | None, to_on: date | None, status_: str | None, worker_id: str | None) -> dict:
    model, table = kind.model, kind.model.__table__
    date_col = getattr(model, kind.date_field)
    stmt = live(model, principal).where(model.case_id == case.id)
    if from_on:
        stmt = stmt.where(date_col >= from_on)
    if to_on:
        stmt = stmt.where(date_col <= to_on)
    if status_ and kind.status_field:
        stmt = stmt.where(getattr(model, kind.status_field) == status_)
    if worker_id and kind.worker_field:
        stmt = stmt.where(getattr(model, kind.worker_field) == worker_id)
    rows = await page(session, stmt, paging, [date_col, model.id])
    await log_reads(request, table.name, [(r.id, r.station_path) for r in rows[:paging.limit]])
    return make_page(rows, paging, [kind.date_field, "id"], shown(kind.read, table, principal))


async def _create(kind: RecordKind, body, case, principal: Principal, session, vault, response: Response):
    record, created = await service.create(session, vault, principal, kind, case, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, record.version)
    response.headers["Location"] = f"/v1/cases/{case.id}/{kind.path}/{record.id}"
    return withhold(kind.read.model_validate(record), kind.model.__table__, principal)


async def _get(kind: RecordKind, case_id: str, record_id: str, principal: Principal, request: Request,
               response: Response):
    case_found, record = await by_id.case_record(read_pool(request), kind.model, kind.read, case_id, record_id,
                                                 principal, read_actor(request))
    if not case_found:
        raise CaseNotFound()
    if record is None:
        raise RecordNotFound(kind.name)
    set_etag(response, record["version"])
    return withhold(kind.read.model_validate(record), kind.model.__table__, principal)


async def _update(kind: RecordKind, record_id: str, body, case, version: int, principal: Principal, session,
                  response: Response):
    record = await _load(kind, session, case, record_id, principal, for_update=True)
    await service.update(session, principal, kind, case, record, version, body)
    set_etag(response, record.version)
    return withhold(kind.read.model_validate(record), kind.model.__table__, principal)


async def _delete(kind: RecordKind, record_id: str, case, version: int, principal: Principal, session) -> Response:
    record = await _load(kind, session, case, record_id, principal, for_update=True)
    await service.delete(session, principal, kind, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _referral_step(action: str, record_id: str, case, principal: Principal, session, version: int | None,
                         response: Response, body: TransitionInput | None) -> s.ReferralRead:
    record = await _load(REFERRALS, session, case, record_id, principal, for_update=True)
    body = body or TransitionInput()
    service.referral_step(principal, record, action, body.on, body.note, version)
    set_etag(response, record.version)
    return withhold(s.ReferralRead.model_validate(record), Referral.__table__, principal)


@router.get("/assessments", response_model=Page[s.AssessmentRead], tags=["assessments"])
async def list_assessments(case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
                           paging: PagingDep, from_on: FromQuery = None, to_on: ToQuery = None,
                           status_: StatusQuery = None, worker_id: WorkerQuery = None) -> dict:
    """The case's assessments, latest first."""
    return await _list(ASSESSMENTS, case, principal, session, request, paging, from_on, to_on, status_, worker_id)


@router.post("/assessments", response_model=s.AssessmentRead, tags=["assessments"], status_code=status.HTTP_201_CREATED)
async def create_assessments(body: s.AssessmentCreate, case: CaseForUpdateDep, principal: IdWriterDep,
                             session: WriteSessionDep, vault: VaultDep, response: Response):
    """Add an assessment to the case (a client id makes retries safe)."""
    return await _create(ASSESSMENTS, body, case, principal, session, vault, response)


@router.get("/assessments/{record_id}", response_model=s.AssessmentRead, tags=["assessments"])
async def get_assessments(case_id: str, record_id: str, principal: IdReaderDep, request: Request, response: Response):
    """One assessment."""
    return await _get(ASSESSMENTS, case_id, record_id, principal, request, response)


@router.patch("/assessments/{record_id}", response_model=s.AssessmentRead, tags=["assessments"])
async def update_assessments(record_id: str, body: s.AssessmentUpdate, case: CaseForUpdateDep, version: IfMatchDep,
                             principal: IdWriterDep, session: WriteSessionDep, response: Response):
    """Change an assessment (If-Match required)."""
    return await _update(ASSESSMENTS, record_id, body, case, version, principal, session, response)


@router.delete("/assessments/{record_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["assessments"])
async def delete_assessments(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                             session: WriteSessionDep) -> Response:
    """Remove an assessment (soft delete; If-Match required)."""
    return await _delete(ASSESSMENTS, record_id, case, version, principal, session)


@router.get("/plans", response_model=Page[s.PlanRead], tags=["plans"])
async def list_plans(case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
                     paging: PagingDep, from_on: FromQuery = None, to_on: ToQuery = None,
                     status_: StatusQuery = None, worker_id: WorkerQuery = None) -> dict:
    """The case's service plans, latest first."""
    return await _list(PLANS, case, principal, session, request, paging, from_on, to_on, status_, worker_id)


@router.post("/plans", response_model=s.PlanRead, tags=["plans"], status_code=status.HTTP_201_CREATED)
async def create_plans(body: s.PlanCreate, case: CaseForUpdateDep, principal: IdWriterDep,
                       session: WriteSessionDep, vault: VaultDep, response: Response):
    """Add a service plan to the case (a client id makes retries safe)."""
    return await _create(PLANS, body, case, principal, session, vault, response)


@router.get("/plans/{record_id}", response_model=s.PlanRead, tags=["plans"])
async def get_plans(case_id: str, record_id: str, principal: IdReaderDep, request: Request, response: Response):
    """One service plan."""
    return await _get(PLANS, case_id, record_id, principal, request, response)


@router.patch("/plans/{record_id}", response_model=s.PlanRead, tags=["plans"])
async def update_plans(record_id: str, body: s.PlanUpdate, case: CaseForUpdateDep, version: IfMatchDep,
                       principal: IdWriterDep, session: WriteSessionDep, response: Response):
    """Change a service plan (If-Match required)."""
    return await _update(PLANS, record_id, body, case, version, principal, session, response)


@router.delete("/plans/{record_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["plans"])
async def delete_plans(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                       session: WriteSessionDep) -> Response:
    """Remove a service plan (soft delete; If-Match required)."""
    return await _delete(PLANS, record_id, case, version, principal, session)


@router.get("/service-records", response_model=Page[s.ServiceRecordRead], tags=["service-records"])
async def list_service_records(case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
                               paging: PagingDep, from_on: FromQuery = None, to_on: ToQuery = None,
                               status_: StatusQuery = None, worker_id: WorkerQuery = None) -> dict:
    """The case's service records, latest first."""
    return await _list(SERVICE_RECORDS, case, principal, session, request, paging, from_on, to_on, status_, worker_id)


@router.post("/service-records", response_model=s.ServiceRecordRead, tags=["service-records"],
             status_code=status.HTTP_201_CREATED)
async def create_service_records(body: s.ServiceRecordCreate, case: CaseRowForRecordsDep, principal: IdWriterDep,
                                 session: WriteSessionDep, vault: VaultDep, response: Response):
    """Add a service record to the case (a client id makes retries safe)."""
    # The lean path (service.records.create_service_records): the records written most.
    [(record_id, created, record)] = await service.create_service_records(
        session, vault, principal, [(case.id, body)], cases={case.id: case}, answer=True)
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, record["version"])
    response.headers["Location"] = f"/v1/cases/{case.id}/{SERVICE_RECORDS.path}/{record_id}"
    return withhold(s.ServiceRecordRead.model_validate(record), SERVICE_RECORDS.model.__table__, principal)


@router.get("/service-records/{record_id}", response_model=s.ServiceRecordRead, tags=["service-records"])
async def get_service_records(case_id: str, record_id: str, principal: IdReaderDep, request: Request,
                              response: Response):
    """One service record."""
    return await _get(SERVICE_RECORDS, case_id, record_id, principal, request, response)


@router.patch("/service-records/{record_id}", response_model=s.ServiceRecordRead, tags=["service-records"])
async def update_service_records(record_id: str, body: s.ServiceRecordUpdate, case: CaseForUpdateDep,
                                 version: IfMatchDep,
                                 principal: IdWriterDep, session: WriteSessionDep, response: Response):
    """Change a service record (If-Match required)."""
    return await _update(SERVICE_RECORDS, record_id, body, case, version, principal, session, response)


@router.delete("/service-records/{record_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["service-records"])
async def delete_service_records(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                                 session: WriteSessionDep) -> Response:
    """Remove a service record (soft delete; If-Match required)."""
    return await _delete(SERVICE_RECORDS, record_id, case, version, principal, session)


@router.get("/referrals", response_model=Page[s.ReferralRead], tags=["referrals"])
async def list_referrals(case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
                         paging: PagingDep, from_on: FromQuery = None, to_on: ToQuery = None,
                         status_: StatusQuery = None, worker_id: WorkerQuery = None) -> dict:
    """The case's referrals, latest first."""
    return await _list(REFERRALS, case, principal, session, request, paging, from_on, to_on, status_, worker_id)


@router.post("/referrals", response_model=s.ReferralRead, tags=["referrals"], status_code=status.HTTP_201_CREATED)
async def create_referrals(body: s.ReferralCreate, case: CaseForUpdateDep, principal: IdWriterDep,
                           session: WriteSessionDep, vault: VaultDep, response: Response):
    """Add a referral to the case (a client id makes retries safe)."""
    return await _create(REFERRALS, body, case, principal, session, vault, response)


@router.get("/referrals/{record_id}", response_model=s.ReferralRead, tags=["referrals"])
async def get_referrals(case_id: str, record_id: str, principal: IdReaderDep, request: Request, response: Response):
    """One referral."""
    return await _get(REFERRALS, case_id, record_id, principal, request, response)


@router.patch("/referrals/{record_id}", response_model=s.ReferralRead, tags=["referrals"])
async def update_referrals(record_id: str, body: s.ReferralUpdate, case: CaseForUpdateDep, version: IfMatchDep,
                           principal: IdWriterDep, session: WriteSessionDep, response: Response):
    """Change a referral (If-Match required)."""
    return await _update(REFERRALS, record_id, body, case, version, principal, session, response)


@router.delete("/referrals/{record_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["referrals"])
async def delete_referrals(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                           session: WriteSessionDep) -> Response:
    """Remove a referral (soft delete; If-Match required)."""
    return await _delete(REFERRALS, record_id, case, version, principal, session)


@router.post("/referrals/{record_id}/accept", response_model=s.ReferralRead, tags=["referrals"])
async def referral_accept(record_id: str, case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                          version: OptionalIfMatchDep, response: Response,
                          body: TransitionInput | None = None) -> s.ReferralRead:
    """Mark the referral accepted."""
    return await _referral_step("accept", record_id, case, principal, session, version, response, body)


@router.post("/referrals/{record_id}/reject", response_model=s.ReferralRead, tags=["referrals"])
async def referral_reject(record_id: str, case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                          version: OptionalIfMatchDep, response: Response,
                          body: TransitionInput | None = None) -> s.ReferralRead:
    """Mark the referral rejected."""
    return await _referral_step("reject", record_id, case, principal, session, version, response, body)


@router.post("/referrals/{record_id}/complete", response_model=s.ReferralRead, tags=["referrals"])
async def referral_complete(record_id: str, case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                            version: OptionalIfMatchDep, response: Response,
                            body: TransitionInput | None = None) -> s.ReferralRead:
    """Mark the referral completed."""
    return await _referral_step("complete", record_id, case, principal, session, version, response, body)


@router.get("/follow-ups", response_model=Page[s.FollowUpRead], tags=["follow-ups"])
async def list_follow_ups(case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
                          paging: PagingDep, from_on: FromQuery = None, to_on: ToQuery = None,
                          status_: StatusQuery = None, worker_id: WorkerQuery = None) -> dict:
    """The case's follow-ups, latest first."""
    return await _list(FOLLOW_UPS, case, principal, session, request, paging, from_on, to_on, status_, worker_id)


@router.post("/follow-ups", response_model=s.FollowUpRead, tags=["follow-ups"], status_code=status.HTTP_201_CREATED)
async def create_follow_ups(body: s.FollowUpCreate, case: CaseForUpdateDep, principal: IdWriterDep,
                            session: WriteSessionDep, vault: VaultDep, response: Response):
    """Add a follow-up to the case (a client id makes retries safe)."""
    return await _create(FOLLOW_UPS, body, case, principal, session, vault, response)


@router.get("/follow-ups/{record_id}", response_model=s.FollowUpRead, tags=["follow-ups"])
async def get_follow_ups(case_id: str, record_id: str, principal: IdReaderDep, request: Request, response: Response):
    """One follow-up."""
    return await _get(FOLLOW_UPS, case_id, record_id, principal, request, response)


@router.patch("/follow-ups/{record_id}", response_model=s.FollowUpRead, tags=["follow-ups"])
async def update_follow_ups(record_id: str, body: s.FollowUpUpdate, case: CaseForUpdateDep, version: IfMatchDep,
                            principal: IdWriterDep, session: WriteSessionDep, response: Response):
    """Change a follow-up (If-Match required)."""
    return await _update(FOLLOW_UPS, record_id, body, case, version, principal, session, response)


@router.delete("/follow-ups/{record_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["follow-ups"])
async def delete_follow_ups(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                            session: WriteSessionDep) -> Response:
    """Remove a follow-up (soft delete; If-Match required)."""
    return await _delete(FOLLOW_UPS, record_id, case, version, principal, session)

