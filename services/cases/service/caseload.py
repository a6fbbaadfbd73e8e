"""A worker's own view: her open cases and what falls due (follow-ups, plan reviews, goals)."""

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Approval
from services.cases.repository import approvals as approvals_repo
from services.cases.repository import cases as repo
from services.cases.schemas.approvals import RETURNED
from services.cases.schemas.records import Caseload, CaseloadItem, CaseSummary, DueItem, DueList, ReturnedStep
from shared import clock
from shared.principals import Principal

PENDING_GOALS = frozenset({"open", "in_progress"})


async def _due_items(session: AsyncSession, case_ids: list[str], until: date | None, today: date) -> list[DueItem]:
    if not case_ids:
        return []
    items = [DueItem(kind="follow_up", due_on=f.due_on, overdue=f.due_on < today, case_id=f.case_id,
                     record_id=f.id, label=f.method)
             for f in await repo.open_follow_ups(session, case_ids, until)]
    for plan in await repo.active_plans(session, case_ids):
        if plan.review_on and (until is None or plan.review_on <= until):
            items.append(DueItem(kind="plan_review", due_on=plan.review_on, overdue=plan.review_on < today,
                                 case_id=plan.case_id, record_id=plan.id))
        for goal in plan.goals or []:
            due = date.fromisoformat(goal["due_on"]) if goal.get("due_on") else None
            if due and goal.get("status") in PENDING_GOALS and (until is None or due <= until):
                items.append(DueItem(kind="goal", due_on=due, overdue=due < today, case_id=plan.case_id,
                                     record_id=plan.id, label=goal.get("goal")))
    items.sort(key=lambda i: (i.due_on, i.case_id, i.kind, i.record_id))
    return items


async def caseload(session: AsyncSession, principal: Principal) -> Caseload:
    cases = await repo.my_open_cases(session, principal)
    today = clock.today()
    next_due: dict[str, DueItem] = {}
    for item in await _due_items(session, [c.id for c in cases], None, today):
        next_due.setdefault(item.case_id, item)
    last = await approvals_repo.last_decisions(session, [c.id for c in cases])
    return Caseload(items=[CaseloadItem(case=CaseSummary.model_validate(c), next_due=next_due.get(c.id),
                                        returned=_returned(last.get(c.id), principal))
                           for c in cases])


def _returned(approval: Approval | None, principal: Principal) -> ReturnedStep | None:
    if approval is None or approval.status != RETURNED:
        return None
    return ReturnedStep(approval_id=approval.id, step=approval.step, returned_by=approval.decided_by,
                        returned_at=approval.decided_at,
                        comments=approval.comments if principal.may_read_sensitive else None)


async def due(session: AsyncSession, principal: Principal, within_days: int) -> DueList:
    cases = await repo.my_open_cases(session, principal)
    today = clock.today()
    return DueList(items=await _due_items(session, [c.id for c in cases], today + timedelta(days=within_days),
                                          today))
