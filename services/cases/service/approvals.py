"""Supervision of casework (DOMAIN.md "Supervision"): which steps need a supervisor's approval, and
submitting one. A rule is set per station and holds for its whole subtree until a station below
sets its own; where none is set, the service plan and the closure need approval. A step that needs
it is submitted, not taken: the case keeps its status with the step pending, and moves no further
until a supervisor decides (service/decisions.py).

Supervisors' assignments are kept here, in the cases service, beside the approvals they open, not
in the gateway with the accounts: every read of an approval checks the assignment in the same SQL
statement (repository/approvals.py `assigned_over`), so removing one ends access with the next
request, with no copy to refresh and no claim carried in a token. The supervisor's role is checked
live by the gateway (gateway/identity/live.py): a demoted account's tokens stop at once.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Approval, ApprovalRule, Case, Station, SupervisorAssignment
from services.cases.repository import approvals as repo
from services.cases.schemas.approvals import (APPROVABLE_STEPS, HIGH_RISK_LEVELS, PENDING, ApprovalRuleInput,
                                              ApprovalRuleRead, AssignmentCreate)
from services.cases.schemas.cases import OPEN_STATUSES
from shared.errors import Forbidden
from shared.models import new_id
from shared.principals import SUPERVISION_MANAGERS, Principal
from shared.records import tombstone, touch
from shared.repository import save
from shared.stations import resolve_station


def check_manager(principal: Principal) -> None:
    if principal.role not in SUPERVISION_MANAGERS:
        raise Forbidden("Only an administrator or a station head sets approval rules and assigns supervisors.")


async def effective_rule(session: AsyncSession, default_steps: list[str], station_id: int,
                         station_path: str) -> ApprovalRuleRead:
    """`default_steps`: the platform's default (CASES_APPROVAL_DEFAULT_STEPS), where no station sets a rule."""
    rule = await repo.rule_for(session, station_path)
    if rule is None:
        return ApprovalRuleRead(station_id=station_id, steps=default_steps, high_risk=False, set_at_station_id=None)
    return ApprovalRuleRead(station_id=station_id, steps=list(rule.steps), high_risk=rule.high_risk,
                            set_at_station_id=rule.station_id)


async def set_rule(session: AsyncSession, principal: Principal, default_steps: list[str], station_id: int,
                   station_path: str, body: ApprovalRuleInput) -> ApprovalRuleRead:
    rule = await repo.rule_at(session, station_id, for_update=True)
    if rule is None:
        rule = ApprovalRule(id=new_id(), station_id=station_id, station_path=station_path, steps=body.steps,
                            high_risk=body.high_risk, created_by=principal.user_id, updated_by=principal.user_id,
                            version=1)
        await save(session, rule)
    else:
        touch(rule, principal, None)
        rule.steps, rule.high_risk = body.steps, body.high_risk
    return await effective_rule(session, default_steps, station_id, station_path)


async def clear_rule(session: AsyncSession, principal: Principal, station_id: int) -> None:
    """The station inherits again from the stations above it."""
    rule = await repo.rule_at(session, station_id, for_update=True)
    if rule is not None:
        tombstone(rule, principal, None)


async def needs_approval(session: AsyncSession, default_steps: list[str], case: Case, action: str) -> bool:
    if action not in APPROVABLE_STEPS:
        return False
    rule = await effective_rule(session, default_steps, case.station_id, case.station_path)
    # Ending a follow-up period is also a `close`, but the closure a rule means is the case's.
    if action == "close" and case.status not in OPEN_STATUSES:
        return False
    return action in rule.steps or (rule.high_risk and case.risk_level in HIGH_RISK_LEVELS)


def submit(session: AsyncSession, principal: Principal, case: Case, action: str, on: date, reason: str | None,
           note: str | None, expected_version: int | None) -> Approval:
    """The step waits for a supervisor: the case keeps its status and shows the pending step."""
    touch(case, principal, expected_version)
    case.pending_step = action
    approval = Approval(id=new_id(), case_id=case.id, station_id=case.station_id, station_path=case.station_path,
                        step=action, from_status=case.status, status=PENDING, occurred_on=on, reason=reason,
                        note=note, created_by=principal.user_id, updated_by=principal.user_id, version=1)
    session.add(approval)
    return approval


async def assign(session: AsyncSession, principal: Principal,
                 body: AssignmentCreate) -> tuple[SupervisorAssignment, bool]:
    """A supervisor assigned to a station of the caller's scope; assigning again answers the first."""
    check_manager(principal)
    station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    if (existing := await repo.assignment_of(session, body.supervisor_id, station_id)) is not None:
        return existing, False
    assignment = SupervisorAssignment(id=new_id(), supervisor_id=body.supervisor_id, station_id=station_id,
                                      station_path=station_path, created_by=principal.user_id,
                                      updated_by=principal.user_id, version=1)
    await save(session, assignment)
    return assignment, True


def unassign(principal: Principal, assignment: SupervisorAssignment, expected_version: int | None) -> None:
    check_manager(principal)
    tombstone(assignment, principal, expected_version)
