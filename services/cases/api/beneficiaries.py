from datetime import date
from typing import Annotated

from types import SimpleNamespace

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import (BeneficiaryForUpdateDep, IdReaderDep, IdWriterDep, IfMatchDep, ReadSessionDep,
                                 SubtreeDep, VaultDep, WriteSessionDep, read_pool)
from services.cases.errors import BeneficiaryNotFound
from services.cases.models import Beneficiary
from services.cases.repository import by_id
from services.cases.repository import beneficiaries as repo
from services.cases.schemas.beneficiaries import BeneficiaryCreate, BeneficiaryRead, BeneficiaryUpdate
from services.cases.service import beneficiaries as service
from shared.audit.reads import log_reads, read_actor
from shared.errors import InvalidInput, also_check
from shared.etag import answer_created, set_etag
from shared.masking import in_full
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalWriterOr403
from shared.records import withhold
from shared.repository import page

router = APIRouter(prefix="/v1/beneficiaries", tags=["beneficiaries"])
ORDER = [Beneficiary.created_at, Beneficiary.id]
TABLE = Beneficiary.__table__


@router.get("", response_model=Page[BeneficiaryRead])
async def list_beneficiaries(
    principal: PersonalReaderOr403, session: ReadSessionDep, vault: VaultDep, subtree: SubtreeDep, request: Request,
    paging: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(min_length=1, max_length=50, description="Name fragment or pinyin")] = None,
    phone_tail: Annotated[str | None, Query(description="Last 4 digits of the phone")] = None,
    id_number: Annotated[str | None, Query(max_length=32, description="Exact ID number")] = None,
    population: Annotated[str | None, Query(max_length=40)] = None,
    worker_id: Annotated[str | None, Query(max_length=64)] = None,
    registered_from: Annotated[date | None, Query(alias="from")] = None,
    registered_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict:
    """Beneficiaries of your subtree, newest first; ID numbers and phones always masked."""
    if phone_tail is not None and not (len(phone_tail) == 4 and phone_tail.isdigit()):
        raise InvalidInput.field("phone_tail", "Give the last 4 digits of the phone.")
    stmt = repo.list_query(
        principal, station_path=subtree, q=q,
        phone_tail_bidx=vault.blind_index(phone_tail, "phone_tail") if phone_tail else None,
        id_number_bidx=vault.blind_index(id_number, "id_number") if id_number else None,
        population=population, worker_id=worker_id, registered_from=registered_from, registered_to=registered_to)
    rows = await page(session, stmt, paging, ORDER)
    await log_reads(request, "beneficiary", [(b.id, b.station_path) for b in rows[:paging.limit]])
    return make_page(rows, paging, ["created_at", "id"],
                     lambda b: withhold(service.to_read(vault, b, reveal=in_full(principal, one_record=False)),
                                        TABLE, principal))


async def _unknown_populations(request: Request, body: dict) -> list[dict]:
    """A body that failed validation may also name population codes the platform does not know."""
    codes = body.get("populations")
    if not isinstance(codes, list):
        return []
    async with request.app.state.db.read_sessions() as session:
        try:
            await service.check_populations(session, [c for c in codes if isinstance(c, str) and len(c) <= 40])
        except InvalidInput as exc:
            return exc.errors or []
    return []


@router.post("", response_model=BeneficiaryRead, status_code=status.HTTP_201_CREATED)
@also_check(_unknown_populations)
async def register_beneficiary(body: BeneficiaryCreate, principal: PersonalWriterOr403, session: WriteSessionDep,
                               vault: VaultDep, response: Response) -> BeneficiaryRead:
    """Register a person (建档); an ID number registered already in the province answers 409 (naming the record if you can see it)."""
    record, created = await service.create(session, vault, principal, body)
    answer_created(response, created, record.version, f"/v1/beneficiaries/{record.id}")
    # The answer to a create is masked as a list is: it was typed in, not read back.
    return withhold(service.to_read(vault, record, reveal=in_full(principal, one_record=False)), TABLE, principal)


@router.get("/{beneficiary_id}", response_model=BeneficiaryRead)
async def get_beneficiary(beneficiary_id: str, principal: IdReaderDep, request: Request,
                          response: Response) -> BeneficiaryRead:
    """One beneficiary; station heads and social workers see the ID number and phone in full."""
    row = await by_id.beneficiary(read_pool(request), beneficiary_id, principal, read_actor(request))
    if row is None:
        raise BeneficiaryNotFound()
    set_etag(response, row["version"])
    # to_read reads attributes, as of the ORM row elsewhere: the same decryption and masking.
    read = service.to_read(request.app.state.vault, SimpleNamespace(**row),
                           reveal=in_full(principal, one_record=True))
    return withhold(read, TABLE, principal)


@router.patch("/{beneficiary_id}", response_model=BeneficiaryRead)
@also_check(_unknown_populations)
async def update_beneficiary(body: BeneficiaryUpdate, record: BeneficiaryForUpdateDep, version: IfMatchDep,
                             principal: IdWriterDep, session: WriteSessionDep, vault: VaultDep,
                             response: Response) -> BeneficiaryRead:
    """Change a beneficiary's profile (If-Match required)."""
    record = await service.update(session, vault, principal, record, version, body)
    set_etag(response, record.version)
    return withhold(service.to_read(vault, record, reveal=in_full(principal, one_record=True)), TABLE, principal)


@router.delete("/{beneficiary_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_beneficiary(record: BeneficiaryForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                             session: WriteSessionDep) -> Response:
    """Remove a beneficiary (soft delete; If-Match required); refused while they have cases."""
    await service.delete(session, principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
