"""Every query of supervision: rules up a station's path, approvals in a reader's reach, assignments."""

from sqlalchemy import ColumnElement, String, and_, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Approval, ApprovalRule, Case, Station, SupervisionRecord, SupervisorAssignment
from shared.principals import SUPERVISOR_ROLE, Principal
from shared.scope import live_in, under


async def rule_for(session: AsyncSession, station_path: str) -> ApprovalRule | None:
    """The rule of the nearest station at or above `station_path` that sets one."""
    stmt = (select(ApprovalRule)
            .where(ApprovalRule.deleted_at.is_(None), under(literal(station_path, String), ApprovalRule.station_path))
            .order_by(func.length(ApprovalRule.station_path).desc()).limit(1))
    return await session.scalar(stmt)


async def rule_at(session: AsyncSession, station_id: int, for_update: bool = False) -> ApprovalRule | None:
    stmt = select(ApprovalRule).where(ApprovalRule.station_id == station_id, ApprovalRule.deleted_at.is_(None))
    return await session.scalar(stmt.with_for_update() if for_update else stmt)


def assigned_over(principal: Principal, station_path_column) -> ColumnElement[bool]:
    """SQL: one of the principal's live assignments covers the row at `station_path_column`. Read in
    the query itself, so a removed assignment ends access with the next request."""
    return exists().where(SupervisorAssignment.supervisor_id == principal.user_id,
                          SupervisorAssignment.deleted_at.is_(None),
                          under(station_path_column, SupervisorAssignment.station_path))


def approvals_in_reach(principal: Principal) -> ColumnElement[bool]:
    """A supervisor reaches the approvals of the stations assigned to them; every other reader those
    of their subtree."""
    if principal.role == SUPERVISOR_ROLE:
        return and_(Approval.deleted_at.is_(None), assigned_over(principal, Approval.station_path))
    return live_in(Approval, principal)


def list_query(principal: Principal, status: str | None, case_id: str | None):
    stmt = select(Approval, Case).join(Case, Case.id == Approval.case_id).where(approvals_in_reach(principal))
    if status:
        stmt = stmt.where(Approval.status == status)
    if case_id:
        stmt = stmt.where(Approval.case_id == case_id)
    return stmt


async def approval(session: AsyncSession, principal: Principal, approval_id: str,
                   for_update: bool = False) -> tuple[Approval, Case] | None:
    stmt = list_query(principal, None, None).where(Approval.id == approval_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def last_decisions(session: AsyncSession, case_ids: list[str]) -> dict[str, Approval]:
    """Each case's latest approval (pending or decided)."""
    if not case_ids:
        return {}
    stmt = (select(Approval).where(Approval.case_id.in_(case_ids), Approval.deleted_at.is_(None))
            .order_by(Approval.created_at, Approval.id))
    return {a.case_id: a for a in (await session.scalars(stmt)).all()}


def assignments_query(principal: Principal, supervisor_id: str | None, station_path: str | None):
    """A supervisor lists their own assignments; other readers those of their subtree."""
    if principal.role == SUPERVISOR_ROLE:
        stmt = select(SupervisorAssignment).where(SupervisorAssignment.deleted_at.is_(None),
                                                  SupervisorAssignment.supervisor_id == principal.user_id)
    else:
        stmt = select(SupervisorAssignment).where(live_in(SupervisorAssignment, principal))
    if supervisor_id:
        stmt = stmt.where(SupervisorAssignment.supervisor_id == supervisor_id)
    if station_path:
        stmt = stmt.where(under(SupervisorAssignment.station_path, station_path))
    return stmt


async def assignment_of(session: AsyncSession, supervisor_id: str, station_id: int) -> SupervisorAssignment | None:
    return await session.scalar(select(SupervisorAssignment).where(
        SupervisorAssignment.supervisor_id == supervisor_id, SupervisorAssignment.station_id == station_id,
        SupervisorAssignment.deleted_at.is_(None)))



async def assigned_station(session: AsyncSession, principal: Principal, station_id: int) -> tuple[int, str] | None:
    """A live station of the replica covered by one of the supervisor's live assignments."""
    row = (await session.execute(select(Station.id, Station.path).where(
        Station.id == station_id, Station.deleted_at.is_(None), assigned_over(principal, Station.path)))).first()
    return None if row is None else (row[0], row[1])


async def live_cases_under(session: AsyncSession, station_path: str, case_ids: list[str]) -> set[str]:
    if not case_ids:
        return set()
    return set((await session.scalars(select(Case.id).where(
        Case.id.in_(case_ids), Case.deleted_at.is_(None), under(Case.station_path, station_path)))).all())


def supervision_in_reach(principal: Principal) -> ColumnElement[bool]:
    """As approvals: a supervisor reaches the records of the stations assigned to them."""
    if principal.role == SUPERVISOR_ROLE:
        return and_(SupervisionRecord.deleted_at.is_(None), assigned_over(principal, SupervisionRecord.station_path))
    return live_in(SupervisionRecord, principal)
