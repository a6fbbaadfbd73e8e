"""Moving a person to another station (a family moved house to another township).

Within the actor's own subtree the move is done at once; to a station beyond it, it is a request
that whoever heads the receiving station (or a station above it) accepts or declines. Roles
(shared.principals TRANSFER_REQUESTERS, TRANSFER_DECIDERS) and scope are checked when each step is
taken, against the station replica as it is then.

What moves, on the day the move takes effect:
- the person (station, registration count) and their roster memberships, so that coverage and due
  visits are the new station's; their responsible worker is cleared for the new station to assign;
- their unclosed cases with the case's own records (assessments, plans, referrals, follow-ups,
  approvals, files): each case leaves the old station's open-case stock and joins the new one's
  through two case events, `transfer_out` and `transfer_in`, counted where each was filed;
- what tablets hold: the old station's are told the moved records are gone (shared.departures).

What stays where it was given: service records, visits and their person-times and persons, the case
events before the move, and closed cases (history is not rewritten).
"""

from datetime import datetime, timezone

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import (BeneficiaryNotFound, PersonMovedSince, ReceivingStationGone, TransferDecided,
                                   TransferNotFound, TransferPending)
from services.cases.models import (Approval, Assessment, Attachment, AuditLog, Beneficiary, FollowUp, Referral,
                                   RosterMember, ServicePlan, SyncDeparture, Transfer)
from services.cases.repository import transfers as repo
from services.cases.schemas.transfers import ACCEPTED, DECLINED, PENDING, WITHDRAWN, DecisionInput, TransferCreate
from services.cases.service.cases import new_event
from services.cases.service.counting import Rollup
from shared import clock
from shared.audit.listener import log_write
from shared.audit.model import UPDATE
from shared.departures import depart
from shared.errors import Forbidden, InvalidInput
from shared.models import new_id
from shared.principals import TRANSFER_DECIDERS, TRANSFER_REQUESTERS, Principal
from shared.records import IdInUse, Vault, found_or, live_or_404, replay, save_new, touch
from shared.scope import path_under
from shared.stations import StationNotReplicated

# The records a case takes with it, and the synced table each is served in (None: not synced).
CASE_RECORDS = ((Assessment, None), (ServicePlan, None), (Referral, "referrals"), (FollowUp, None),
                (Approval, "approvals"))


def _province(path: str) -> str:
    return path.split("/", 2)[1]


async def _own_path(session: AsyncSession, principal: Principal) -> str:
    """The caller's subtree as the replica has it now (a token may predate a station move)."""
    own = await repo.station(session, principal.station_id)
    if own is None:
        raise StationNotReplicated()
    return own.path


async def request(session: AsyncSession, vault: Vault, principal: Principal, beneficiary_id: str,
                  body: TransferCreate) -> tuple[Transfer, bool]:
    """Move the person at once (within the caller's subtree) or ask the receiving station; (transfer,
    made now). A retried create with the same client id and body answers the transfer it made."""
    if principal.role not in TRANSFER_REQUESTERS:
        raise Forbidden("This role cannot move a person to another station.")
    digest = vault.digest("transfer", body, beneficiary_id)
    if (existing := await replay(session, Transfer, body.id, digest, principal)) is not None:
        if existing.beneficiary_id != beneficiary_id:
            raise IdInUse()
        return existing, False
    beneficiary = await live_or_404(session, Beneficiary, beneficiary_id, principal, for_update=True,
                                    missing=BeneficiaryNotFound)
    to = found_or(await repo.station(session, body.to_station_id),
                  lambda: InvalidInput.field("to_station_id", "No such station.", "unknown_station"))
    if to.id == beneficiary.station_id:
        raise InvalidInput.field("to_station_id", "The person is at this station already.", "same_station")
    if _province(to.path) != _province(beneficiary.station_path):
        # Each province keeps its own register (one record per person and province): a move between
        # provinces is a new registration there.
        raise InvalidInput.field("to_station_id", "A person moves between stations of their province only.",
                                 "other_province")
    direct = path_under(to.path, await _own_path(session, principal))
    transfer = Transfer(id=body.id or new_id(), station_id=beneficiary.station_id,
                        station_path=beneficiary.station_path, beneficiary_id=beneficiary.id,
                        to_station_id=to.id, status=ACCEPTED if direct else PENDING, reason=body.reason, note=body.note, direct=direct,
                        create_digest=digest, created_by=principal.user_id, updated_by=principal.user_id, version=1)
    # One request at a time (the person's row is locked, so two requests cannot both pass): a second
    # would race the first. A move within the caller's subtree may still go ahead; the request left
    # behind then answers 409 when decided.
    if not direct and await repo.pending_for(session, beneficiary.id):
        raise TransferPending()
    await save_new(session, transfer)
    if direct:
        await _move(session, principal, transfer, beneficiary, to.id, to.path)
        _decided(transfer, principal, ACCEPTED, None)
    return transfer, True


def _decided(transfer: Transfer, principal: Principal, status: str, note: str | None) -> None:
    transfer.status = status
    transfer.decided_by = principal.user_id
    transfer.decided_at = datetime.now(timezone.utc)
    transfer.decision_note = note


async def decide(session: AsyncSession, principal: Principal, transfer_id: str, accept: bool,
                 expected_version: int | None, body: DecisionInput) -> tuple[Transfer, str, str]:
    """Accept (the person moves now) or decline (nothing moves) a request into the caller's subtree."""
    if principal.role not in TRANSFER_DECIDERS:
        raise Forbidden("Only the receiving station's head decides a transfer.")
    found = await repo.transfer(session, principal, transfer_id, for_update=True)
    if found is None:
        raise TransferNotFound()
    transfer, to_path, name = found
    if not path_under(to_path, await _own_path(session, principal)):
        raise Forbidden("Only the receiving station (or one above it) decides a transfer; you asked for it.")
    if transfer.status != PENDING:
        raise TransferDecided()
    touch(transfer, principal, expected_version)
    if accept:
        beneficiary = await session.get(Beneficiary, transfer.beneficiary_id, with_for_update=True,
                                        populate_existing=True)
        if beneficiary is None or beneficiary.deleted_at is not None or beneficiary.station_id != transfer.station_id:
            raise PersonMovedSince()
        if await repo.station(session, transfer.to_station_id) is None:
            raise ReceivingStationGone()
        await _move(session, principal, transfer, beneficiary, transfer.to_station_id, to_path)
    _decided(transfer, principal, ACCEPTED if accept else DECLINED, body.note)
    return transfer, to_path, name


async def withdraw(session: AsyncSession, principal: Principal, transfer_id: str, expected_version: int | None,
                   body: DecisionInput) -> tuple[Transfer, str, str]:
    """Take back a request not decided yet (the station the person would leave, or one above it): nothing
    moves, and the person may be asked for again, elsewhere. A request the receiving station never
    answers would otherwise hold the person (one pending transfer at a time) for good."""
    if principal.role not in TRANSFER_REQUESTERS:
        raise Forbidden("This role cannot move a person to another station.")
    found = await repo.transfer(session, principal, transfer_id, for_update=True)
    if found is None:
        raise TransferNotFound()
    transfer = found[0]
    if not path_under(transfer.station_path, await _own_path(session, principal)):
        raise Forbidden("Only the station the person would leave (or one above it) withdraws a request.")
    if transfer.status != PENDING:
        raise TransferDecided()
    touch(transfer, principal, expected_version)
    _decided(transfer, principal, WITHDRAWN, body.note)
    return found


async def _move(session: AsyncSession, principal: Principal, transfer: Transfer, beneficiary: Beneficiary,
                to_id: int, to_path: str) -> None:
    on = clock.today()
    old_id, old_path, user = beneficiary.station_id, beneficiary.station_path, principal.user_id
    rollup = Rollup()
    # The registration moves with the person: a later change of their populations or their deletion
    # is counted at the station they are at then, and must find them counted there.
    rollup.beneficiary(beneficiary, -1)
    cases = await repo.moving_cases(session, beneficiary.id, old_path)
    for case in cases:
        leave = new_event(case, principal, "transfer_out", case.status, on, note=transfer.reason)
        session.add(leave)
        rollup.case_event(case, leave, +1)
        case.station_id, case.station_path, case.worker_id = to_id, to_path, None
        touch(case, principal, None)
        arrive = new_event(case, principal, "transfer_in", case.status, on, note=transfer.reason)
        # After the leaving in the case's history, which is ordered by created_at (now() is the
        # transaction's start, the same for both events).
        arrive.created_at = func.clock_timestamp()
        session.add(arrive)
        rollup.case_event(case, arrive, +1)
    beneficiary.station_id, beneficiary.station_path, beneficiary.worker_id = to_id, to_path, None
    touch(beneficiary, principal, None)
    rollup.beneficiary(beneficiary, +1)
    case_ids = [c.id for c in cases]
    departed = {"beneficiaries": [beneficiary.id], "cases": case_ids}

    async def refile(model, where: list) -> list[str]:
        # Bulk updates pass by the audit listener (it sees ORM objects): each row is logged here.
        ids = await repo.refile(session, model, where, to_id, to_path, user)
        for record_id in ids:
            log_write(session, AuditLog, UPDATE, model.__tablename__, record_id, to_path)
        return ids

    if case_ids:
        for model, table in CASE_RECORDS:
            ids = await refile(model, [model.case_id.in_(case_ids)])
            if table:
                departed[table] = ids
    files = await refile(Attachment, repo.files_of("beneficiary", [beneficiary.id]))
    if case_ids:
        files += await refile(Attachment, repo.files_of("case", case_ids))
    departed["case_attachments"] = files
    await refile(RosterMember, [RosterMember.beneficiary_id == beneficiary.id])
    for table, ids in departed.items():
        await depart(session, SyncDeparture, table, ids, old_id, old_path)
    await rollup.write(session)
    transfer.transferred_on, transfer.case_ids = on, case_ids

