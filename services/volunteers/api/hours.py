from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.volunteers.deps import (IdReaderDep, IdWriterDep, IfMatchDep, ReadSessionDep,
                                      SubtreeDep, VaultDep, WriteSessionDep, own_volunteer_id)
from services.volunteers.models import ServiceHours
from services.volunteers.repository import hours as repo
from services.volunteers.repository.common import get_unscoped
from services.volunteers.schemas.hours import (ConfirmInput, CorrectionInput, DisputeInput, HoursCreate, HoursHistory,
                                               HoursRead, HoursStatus, HoursVersionRead)
from services.volunteers.service import hours as service
from shared.errors import Forbidden
from shared.etag import OptionalIfMatchDep, answer_created, set_etag
from shared.contracts.lookup.client import AskerDep
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalWriterOr403, Principal, PrincipalDep, Role
from shared.records import RecordNotFound
from shared.repository import get_live, page

router = APIRouter(prefix="/v1/volunteer-hours", tags=["volunteer hours"])
ORDER = [ServiceHours.served_on, ServiceHours.id]


async def _load(session, principal: Principal, hours_id: str, for_update: bool = False) -> ServiceHours:
    """Staff reach records their subtree organised; a volunteer reaches their own records only."""
    own = await own_volunteer_id(principal, session)
    if own is not None:
        record = await get_unscoped(session, ServiceHours, hours_id, for_update=for_update)
        if record is not None and record.volunteer_id != own:
            record = None
    else:
        record = await get_live(session, ServiceHours, hours_id, principal, for_update=for_update)
    if record is None:
        raise RecordNotFound("service hours record")
    return record


@router.get("", response_model=Page[HoursRead])
async def list_hours(
    principal: IdReaderDep, session: ReadSessionDep, subtree: SubtreeDep,
    paging: Annotated[PageParams, Depends(page_params)],
    volunteer_id: Annotated[str | None, Query(max_length=64)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[HoursStatus | None, Query(alias="status")] = None,
    from_on: Annotated[date | None, Query(alias="from")] = None,
    to_on: Annotated[date | None, Query(alias="to")] = None,
) -> dict:
    """Service hours organised in your subtree (a volunteer: their own), latest first."""
    stmt = repo.list_query(principal, own_volunteer_id=await own_volunteer_id(principal, session),
                           station_path=subtree, volunteer_id=volunteer_id, team_id=team_id, status=status_,
                           from_on=from_on, to_on=to_on)
    rows = await page(session, stmt, paging, ORDER)
    return make_page(rows, paging, ["served_on", "id"], HoursRead.model_validate)


@router.post("", response_model=HoursRead, status_code=status.HTTP_201_CREATED)
async def record_hours(body: HoursCreate, principal: PersonalWriterOr403, session: WriteSessionDep, vault: VaultDep,
                       asker: AskerDep, response: Response) -> HoursRead:
    """Record a volunteer's service (the organiser records); status starts as recorded."""
    # The lean path (service.hours.create_many), then the record read as the ORM answers it.
    [(record_id, created)] = await service.create_many(session, vault, asker, principal, [body])
    record = await session.get(ServiceHours, record_id)
    answer_created(response, created, record.version, f"/v1/volunteer-hours/{record.id}")
    return HoursRead.model_validate(record)


@router.get("/{hours_id}", response_model=HoursRead)
async def get_hours(hours_id: str, principal: IdReaderDep, session: ReadSessionDep, response: Response) -> HoursRead:
    """One service hours record."""
    record = await _load(session, principal, hours_id)
    set_etag(response, record.version)
    return HoursRead.model_validate(record)


@router.get("/{hours_id}/history", response_model=HoursHistory)
async def hours_history(hours_id: str, principal: IdReaderDep, session: ReadSessionDep) -> HoursHistory:
    """Every version of the record, oldest first: what was recorded, disputed and corrected."""
    record = await _load(session, principal, hours_id)
    return HoursHistory(items=[HoursVersionRead(version=v.version, action=v.action, status=v.status,
                                                values=v.snapshot, note=v.note, by=v.by, at=v.at)
                               for v in await repo.history(session, record.id)])


@router.post("/{hours_id}/confirm", response_model=HoursRead)
async def confirm_hours(hours_id: str, principal: IdWriterDep, session: WriteSessionDep, version: OptionalIfMatchDep,
                        response: Response, body: ConfirmInput | None = None) -> HoursRead:
    """The organiser confirms the record (also upholds a disputed one); confirmed hours count on certificates."""
    record = await _load(session, principal, hours_id, for_update=True)
    await service.act(session, principal, record, "confirm", body or ConfirmInput(), version)
    set_etag(response, record.version)
    return HoursRead.model_validate(record)


@router.post("/{hours_id}/correct", response_model=HoursRead)
async def correct_hours(hours_id: str, body: CorrectionInput, principal: IdWriterDep, session: WriteSessionDep,
                        version: IfMatchDep, asker: AskerDep, response: Response) -> HoursRead:
    """The organiser corrects the record with a reason (If-Match required); the earlier version stays in its history."""
    record = await _load(session, principal, hours_id, for_update=True)
    await service.correct(session, asker, principal, record, body, version)
    set_etag(response, record.version)
    return HoursRead.model_validate(record)


@router.post("/{hours_id}/dispute", response_model=HoursRead)
async def dispute_hours(hours_id: str, body: DisputeInput, principal: PrincipalDep, session: WriteSessionDep,
                        version: OptionalIfMatchDep, response: Response) -> HoursRead:
    """The volunteer disputes their own record with a reason; it leaves the counts until the organiser acts."""
    if principal.role is not Role.volunteer:
        if principal.may_read_personal:
            raise Forbidden("Only the volunteer concerned can dispute a record; correct it instead.")
        raise RecordNotFound("service hours record")
    record = await _load(session, principal, hours_id, for_update=True)
    await service.act(session, principal, record, "dispute", body, version)
    set_etag(response, record.version)
    return HoursRead.model_validate(record)


@router.delete("/{hours_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hours(hours_id: str, principal: IdWriterDep, version: IfMatchDep,
                       session: WriteSessionDep) -> Response:
    """Remove a record made in error (soft delete; If-Match required); its counts are taken back."""
    record = await _load(session, principal, hours_id, for_update=True)
    await service.delete(session, principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
