"""Every query of transfers: the requests in a reader's reach, and the records that move with a person."""

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.cases.models import Attachment, Beneficiary, Case, RosterMember, Station, Transfer
from services.cases.schemas.cases import UNCLOSED_STATUSES
from services.cases.schemas.transfers import ACCEPTED, PENDING
from shared.principals import Principal
from shared.repository import live
from shared.scope import under

Receiving = aliased(Station, name="receiving")


def in_reach(principal: Principal) -> ColumnElement[bool]:
    """A transfer is the business of the station the person leaves (outgoing) and of the one they go
    to (incoming): of whoever's subtree holds either, read from the replica as it is now."""
    return or_(under(Transfer.station_path, principal.station_path),
               under(Receiving.path, principal.station_path))


def list_query(principal: Principal, direction: str | None, status: str | None, beneficiary_id: str | None):
    stmt = (select(Transfer, Receiving.path, Beneficiary.name)
            .join(Receiving, Receiving.id == Transfer.to_station_id)
            .join(Beneficiary, Beneficiary.id == Transfer.beneficiary_id)
            .where(Transfer.deleted_at.is_(None), in_reach(principal)))
    if direction == "incoming":
        stmt = stmt.where(under(Receiving.path, principal.station_path))
    elif direction == "outgoing":
        stmt = stmt.where(under(Transfer.station_path, principal.station_path))
    if status:
        stmt = stmt.where(Transfer.status == status)
    if beneficiary_id:
        stmt = stmt.where(Transfer.beneficiary_id == beneficiary_id)
    return stmt


async def transfer(session: AsyncSession, principal: Principal, transfer_id: str,
                   for_update: bool = False) -> tuple[Transfer, str, str] | None:
    """(transfer, receiving station's path, person's name) in the reader's reach, or None."""
    stmt = list_query(principal, None, None, None).where(Transfer.id == transfer_id)
    if for_update:
        stmt = stmt.with_for_update(of=Transfer)
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1], row[2])


async def station(session: AsyncSession, station_id: int):
    """A live station of the replica (id, path), wherever it is in the tree."""
    return (await session.execute(select(Station.id, Station.path).where(
        Station.id == station_id, Station.deleted_at.is_(None)))).first()


async def departed(session: AsyncSession, principal: Principal, beneficiary_id: str,
                   ) -> tuple[Beneficiary, Transfer] | None:
    """A live person whom a transfer filed in the principal's subtree took out of it: the person, locked
    as a record in reach would be, and the latest such transfer (the station they left and when)."""
    left = await session.scalar(
        live(Transfer, principal).where(Transfer.beneficiary_id == beneficiary_id, Transfer.status == ACCEPTED)
        .order_by(Transfer.transferred_on.desc(), Transfer.decided_at.desc()).limit(1))
    if left is None:
        return None
    person = await session.get(Beneficiary, beneficiary_id, with_for_update=True)
    return (person, left) if person is not None and person.deleted_at is None else None


async def pending_for(session: AsyncSession, beneficiary_id: str) -> bool:
    found = await session.scalar(select(Transfer.id).where(Transfer.beneficiary_id == beneficiary_id,
                                                           Transfer.status == PENDING,
                                                           Transfer.deleted_at.is_(None)).limit(1))
    return found is not None


async def moving_cases(session: AsyncSession, beneficiary_id: str, station_path: str) -> list[Case]:
    """The person's unclosed cases filed in the subtree they leave, locked: they move with the person."""
    stmt = (select(Case).where(Case.beneficiary_id == beneficiary_id, Case.deleted_at.is_(None),
                               Case.status.in_([s.value for s in UNCLOSED_STATUSES]),
                               under(Case.station_path, station_path))
            .order_by(Case.id).with_for_update())
    return list((await session.scalars(stmt)).all())


async def memberships(session: AsyncSession, beneficiary_id: str) -> list[RosterMember]:
    stmt = (select(RosterMember).where(RosterMember.beneficiary_id == beneficiary_id,
                                       RosterMember.deleted_at.is_(None)).order_by(RosterMember.id).with_for_update())
    return list((await session.scalars(stmt)).all())


async def refile(session: AsyncSession, model, where: list, station_id: int, station_path: str,
                 user_id: str) -> list[str]:
    """Live rows of `model` matching `where` filed at the new station; their ids."""
    stmt = (update(model).where(*where, model.deleted_at.is_(None))
            .values(station_id=station_id, station_path=station_path, version=model.version + 1, updated_by=user_id)
            .returning(model.id).execution_options(synchronize_session=False))
    return list((await session.scalars(stmt)).all())


def files_of(kind: str, ids: list[str]) -> list:
    """`where` of the live attachments of records of `kind` (beneficiary, case) among `ids`."""
    return [Attachment.owner_table == kind, Attachment.owner_id.in_(ids)]
