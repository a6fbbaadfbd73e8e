"""Case, case history and case-record queries."""

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Case, CaseEvent, FollowUp, ServicePlan
from services.cases.schemas.cases import CaseState
from shared.principals import Principal
from shared.repository import live, narrowed
from shared.scope import under

def list_query(principal: Principal, *, station_path: str | None, status: str | None, worker_id: str | None,
               beneficiary_id: str | None, population: str | None, risk_level: str | None,
               opened_from: date | None, opened_to: date | None):
    return narrowed(live(Case, principal), Case, station_path=station_path,
                    equal={"status": status, "worker_id": worker_id, "beneficiary_id": beneficiary_id,
                           "risk_level": risk_level},
                    holding={"populations": population}, span=("opened_on", opened_from, opened_to))


async def events(session: AsyncSession, case_id: str) -> list[CaseEvent]:
    stmt = (select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.deleted_at.is_(None))
            .order_by(CaseEvent.created_at, CaseEvent.occurred_on, CaseEvent.id))
    return list((await session.scalars(stmt)).all())


async def last_step_on(session: AsyncSession, case_id: str) -> date | None:
    """The date of the case's latest step (its opening at the least)."""
    return await session.scalar(select(func.max(CaseEvent.occurred_on)).where(CaseEvent.case_id == case_id,
                                                                             CaseEvent.deleted_at.is_(None)))


async def live_children(session: AsyncSession, model, case_id: str, for_update: bool = False) -> list:
    stmt = select(model).where(model.case_id == case_id, model.deleted_at.is_(None))
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.scalars(stmt)).all())


async def tombstone_children(session: AsyncSession, model, case_id: str, user_id: str) -> None:
    await session.execute(
        update(model).where(model.case_id == case_id, model.deleted_at.is_(None))
        .values(deleted_at=func.now(), updated_by=user_id, version=model.version + 1)
    )


async def unclosed_under(session: AsyncSession, station_path: str) -> dict[str, int]:
    """Live cases of the subtree by status, closed ones left out."""
    stmt = (select(Case.status, func.count()).where(Case.deleted_at.is_(None), Case.status != CaseState.closed.value,
                                                    under(Case.station_path, station_path))
            .group_by(Case.status))
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def my_open_cases(session: AsyncSession, principal: Principal) -> list[Case]:
    stmt = (live(Case, principal).where(Case.worker_id == principal.user_id, Case.status != CaseState.closed.value)
            .order_by(Case.opened_on.desc(), Case.id.desc()))
    return list((await session.scalars(stmt)).all())


async def open_follow_ups(session: AsyncSession, case_ids: list[str], until: date | None = None) -> list[FollowUp]:
    stmt = select(FollowUp).where(FollowUp.case_id.in_(case_ids), FollowUp.deleted_at.is_(None),
                                  FollowUp.done_on.is_(None))
    if until:
        stmt = stmt.where(FollowUp.due_on <= until)
    return list((await session.scalars(stmt)).all())


async def active_plans(session: AsyncSession, case_ids: list[str]) -> list[ServicePlan]:
    stmt = select(ServicePlan).where(ServicePlan.case_id.in_(case_ids), ServicePlan.deleted_at.is_(None),
                                     ServicePlan.status == "active")
    return list((await session.scalars(stmt)).all())


