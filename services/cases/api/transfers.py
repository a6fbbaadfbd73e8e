"""Transfers of a person to another station (service/transfers.py): the move or request, the lists of
incoming and outgoing transfers, and the receiving station's decision."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import IdWriterDep, ReadSessionDep, VaultDep, WriteSessionDep
from services.cases.errors import TransferNotFound
from services.cases.models import Transfer
from services.cases.repository import transfers as repo
from services.cases.schemas.transfers import DecisionInput, Direction, TransferCreate, TransferRead, TransferStatus
from services.cases.service import transfers as service
from shared.audit import log_reads
from shared.etag import OptionalIfMatchDep, set_etag
from shared.pagination import Page, PageParams, keyset, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalReaderOr404, Principal

router = APIRouter(tags=["transfers"])
ORDER = [Transfer.created_at, Transfer.id]
REQUESTED = {202: {"model": TransferRead, "description": "Asked of the receiving station, outside your subtree: "
                                                          "pending until it accepts or declines"}}


def _read(transfer: Transfer, to_path: str, name: str, principal: Principal) -> TransferRead:
    # The note is about the person: shown to the roles that read case notes, as every sealed field.
    return TransferRead(id=transfer.id, beneficiary_id=transfer.beneficiary_id, beneficiary_name=name,
                        from_station_id=transfer.station_id, to_station_id=transfer.to_station_id,
                        status=transfer.status, direct=transfer.direct, reason=transfer.reason,
                        note=transfer.note if principal.may_read_sensitive else None,
                        transferred_on=transfer.transferred_on, case_ids=list(transfer.case_ids),
                        requested_by=transfer.created_by, requested_at=transfer.created_at,
                        decided_by=transfer.decided_by, decided_at=transfer.decided_at,
                        decision_note=transfer.decision_note, version=transfer.version)


@router.post("/v1/beneficiaries/{beneficiary_id}/transfer", response_model=TransferRead,
             status_code=status.HTTP_201_CREATED, responses=REQUESTED)
async def transfer_beneficiary(beneficiary_id: str, body: TransferCreate, principal: IdWriterDep,
                               session: WriteSessionDep, vault: VaultDep, response: Response) -> TransferRead:
    """Move a person, with their unclosed cases and roster memberships, to another station of the province:
    at once within your subtree (201), else as a request to the receiving station (202). A client id
    makes a retry safe (200 with the transfer it made)."""
    transfer, created = await service.request(session, vault, principal, beneficiary_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    elif transfer.status == "pending":
        response.status_code = status.HTTP_202_ACCEPTED
    await session.flush()
    await session.refresh(transfer)
    found = await repo.transfer(session, principal, transfer.id)
    if found is None:  # replayed by someone who no longer reaches it: as any id out of scope
        raise TransferNotFound()
    set_etag(response, transfer.version)
    response.headers["Location"] = f"/v1/transfers/{transfer.id}"
    return _read(*found, principal)


@router.get("/v1/transfers", response_model=Page[TransferRead])
async def list_transfers(principal: PersonalReaderOr403, session: ReadSessionDep, request: Request,
                         paging: Annotated[PageParams, Depends(page_params)],
                         direction: Direction | None = None,
                         status_: Annotated[TransferStatus | None, Query(alias="status")] = None,
                         beneficiary_id: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Transfers into your subtree (`incoming`: the requests to decide are `status=pending`) and out of it
    (`outgoing`), newest first."""
    stmt = keyset(repo.list_query(principal, direction, status_, beneficiary_id), paging, ORDER)
    rows = (await session.execute(stmt)).all()
    await log_reads(request, "transfer", [(t.id, t.station_path) for t, _, _ in rows[:paging.limit]])
    return make_page(rows, paging, lambda row: [row[0].created_at, row[0].id],
                     lambda row: _read(row[0], row[1], row[2], principal))


@router.get("/v1/transfers/{transfer_id}", response_model=TransferRead)
async def get_transfer(transfer_id: str, principal: PersonalReaderOr404, session: ReadSessionDep,
                       request: Request, response: Response) -> TransferRead:
    """One transfer, incoming or outgoing."""
    found = await repo.transfer(session, principal, transfer_id)
    if found is None:
        raise TransferNotFound()
    await log_reads(request, "transfer", [(found[0].id, found[0].station_path)])
    set_etag(response, found[0].version)
    return _read(*found, principal)


@router.post("/v1/transfers/{transfer_id}/accept", response_model=TransferRead)
async def accept_transfer(transfer_id: str, principal: PersonalReaderOr404, session: WriteSessionDep,
                          version: OptionalIfMatchDep, response: Response,
                          body: DecisionInput | None = None) -> TransferRead:
    """Accept a request into your subtree (a station head of the receiving station or above it): the person
    and their unclosed cases move now."""
    found = await service.decide(session, principal, transfer_id, True, version, body or DecisionInput())
    set_etag(response, found[0].version)
    return _read(*found, principal)


@router.post("/v1/transfers/{transfer_id}/decline", response_model=TransferRead)
async def decline_transfer(transfer_id: str, principal: PersonalReaderOr404, session: WriteSessionDep,
                           version: OptionalIfMatchDep, response: Response,
                           body: DecisionInput | None = None) -> TransferRead:
    """Decline a request into your subtree, with the reason in `note`: nothing moves."""
    found = await service.decide(session, principal, transfer_id, False, version, body or DecisionInput())
    set_etag(response, found[0].version)
    return _read(*found, principal)


@router.post("/v1/transfers/{transfer_id}/withdraw", response_model=TransferRead)
async def withdraw_transfer(transfer_id: str, principal: PersonalReaderOr404, session: WriteSessionDep,
                            version: OptionalIfMatchDep, response: Response,
                            body: DecisionInput | None = None) -> TransferRead:
    """Withdraw a request you made (or one made below you) that the receiving station has not decided:
    nothing moves, and the person may be asked for again."""
    found = await service.withdraw(session, principal, transfer_id, version, body or DecisionInput())
    set_etag(response, found[0].version)
    return _read(*found, principal)

