"""A supervisor's decision on a submitted step: approved, it takes effect as submitted (its date,
reason and note); returned, it goes back to the worker's caseload with the comments. Either way the
decision stays on the approval row (who, when, why), and its write is audited with the rest."""

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import ApprovalDecided, ApprovalNotFound
from services.cases.models import Approval, Case
from services.cases.repository import approvals as repo
from services.cases.schemas.approvals import APPROVED, PENDING, RETURNED
from services.cases.service.cases import apply_step
from shared.errors import Forbidden
from shared.principals import SUPERVISOR_ROLE, Principal
from shared.records import touch


def check_supervisor(principal: Principal) -> None:
    if principal.role != SUPERVISOR_ROLE:
        raise Forbidden("Only a supervisor assigned to the case's station decides its steps.")


async def _pending(session: AsyncSession, principal: Principal, approval_id: str) -> tuple[Approval, Case]:
    check_supervisor(principal)
    found = await repo.approval(session, principal, approval_id, for_update=True)
    if found is None:
        raise ApprovalNotFound()
    approval, case = found
    if approval.status != PENDING:
        raise ApprovalDecided()
    return approval, case


def _decide(approval: Approval, principal: Principal, status: str, comments: str | None) -> None:
    touch(approval, principal, None)
    approval.status, approval.comments = status, comments
    approval.decided_by, approval.decided_at = principal.user_id, datetime.now(timezone.utc)


async def approve(session: AsyncSession, principal: Principal, approval_id: str,
                  comments: str | None) -> tuple[Approval, Case]:
    approval, case = await _pending(session, principal, approval_id)
    _decide(approval, principal, APPROVED, comments)
    await apply_step(session, principal, case, approval.step, approval.occurred_on, approval.reason, approval.note,
                     None)
    return approval, case


async def send_back(session: AsyncSession, principal: Principal, approval_id: str,
                    comments: str) -> tuple[Approval, Case]:
    approval, case = await _pending(session, principal, approval_id)
    _decide(approval, principal, RETURNED, comments)
    touch(case, principal, None)
    case.pending_step = None
    return approval, case
