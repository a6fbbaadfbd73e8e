"""The case lifecycle (MZ/T 094-2017): intake → assessment → planning → intervention →
evaluation → closed, follow-up after closure, and reopening. Each step is an event row."""

from datetime import date, datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import StepAwaitingApproval
from services.cases.models import (Approval, Assessment, Beneficiary, Case, CaseEvent, FollowUp, Referral, ServicePlan,
                                   ServiceRecord, Station)
from services.cases.repository import cases as repo
from services.cases.schemas.cases import (OPEN_STATUSES, UNCLOSED_STATUSES, CaseCreate, CaseState, CaseUpdate, CloseInput,
                                          TransitionInput)
from services.cases.service import approvals
from services.cases.service.counting import Rollup
from services.cases.service.references import check_project
from shared import clock
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.records import TransitionNotAllowed, Vault, found_or, replay, save_new, touch
from shared.repository import get_live
from shared.principals import Principal
from shared.scope import path_under
from shared.stations import resolve_station

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[CaseState], CaseState]] = {
    "assess": (frozenset({CaseState.intake}), CaseState.assessment),
    "plan": (frozenset({CaseState.assessment}), CaseState.planning),
    "intervene": (frozenset({CaseState.planning}), CaseState.intervention),
    "evaluate": (frozenset({CaseState.intervention}), CaseState.evaluation),
    # From an open status this is the closure; from follow_up it ends the follow-up period.
    "close": (UNCLOSED_STATUSES, CaseState.closed),
    "follow-up": (frozenset({CaseState.closed}), CaseState.follow_up),
    "reopen": (frozenset({CaseState.closed, CaseState.follow_up}), CaseState.assessment),
}

CASE_RECORDS = (Assessment, ServicePlan, Referral, FollowUp)


def allowed_actions(status: str) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def new_event(case: Case, principal: Principal, action: str, from_status: str | None, on: date,
              reason: str | None = None, note: str | None = None) -> CaseEvent:
    return CaseEvent(id=new_id(), case_id=case.id, station_id=case.station_id, station_path=case.station_path,
                     action=action, from_status=from_status, to_status=case.status, occurred_on=on, reason=reason,
                     note=note, created_by=principal.user_id, updated_by=principal.user_id, version=1)


async def create(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal,
                 body: CaseCreate) -> tuple[Case, bool]:
    digest = vault.digest("case", body)
    if (existing := await replay(session, Case, body.id, digest, principal)) is not None:
        return existing, False
    beneficiary = found_or(await get_live(session, Beneficiary, body.beneficiary_id, principal),
                           lambda: InvalidInput.field("beneficiary_id", "No such beneficiary in your scope.",
                                                      "unknown_beneficiary"))
    station_id, station_path = await _case_station(session, principal, beneficiary, body.station_id)
    if body.project_id is not None:
        await check_project(asker, body.project_id, station_id)
    case = Case(id=body.id or new_id(), station_id=station_id, station_path=station_path,
                beneficiary_id=beneficiary.id, title=body.title, presenting_problem=body.presenting_problem,
                status=CaseState.intake.value, risk_level=body.risk_level, worker_id=body.worker_id or principal.user_id,
                project_id=body.project_id, opened_on=body.opened_on or clock.today(),
                populations=list(beneficiary.populations), create_digest=digest,
                created_by=principal.user_id, updated_by=principal.user_id, version=1)
    await save_new(session, case)
    event = new_event(case, principal, "open", None, case.opened_on)
    session.add(event)
    rollup = Rollup()
    rollup.case_event(case, event, +1)
    await rollup.write(session)
    return case, True


async def _case_station(session: AsyncSession, principal: Principal, beneficiary: Beneficiary,
                        station_id: int | None) -> tuple[int, str]:
    """A case is the beneficiary's station's (a township worker's case for a village person is the
    village's), or a station of the caller's scope below it; never one outside the person's subtree."""
    if station_id is None:
        return beneficiary.station_id, beneficiary.station_path
    station_id, station_path = await resolve_station(session, Station, principal, station_id)
    if not path_under(station_path, beneficiary.station_path):
        raise InvalidInput.field("station_id", "A case is filed at its beneficiary's station or a station below it.",
                                 "outside_beneficiary")
    return station_id, station_path


async def update(asker: Asker, principal: Principal, case: Case, expected_version: int, body: CaseUpdate) -> Case:
    fields = body.changes()
    touch(case, principal, expected_version)
    if fields.get("project_id") not in (None, case.project_id):
        await check_project(asker, fields["project_id"], case.station_id)
    for key, value in fields.items():
        setattr(case, key, value)
    return case


async def transition(session: AsyncSession, principal: Principal, case: Case, action: str,
                     body: TransitionInput, expected_version: int | None, default_steps: list[str]) -> bool:
    """Take the step, or submit it when a rule of the case's station needs a supervisor's approval
    (service/approvals.py; `default_steps`: the platform's default rule); True when it was submitted."""
    if case.pending_step is not None:
        raise StepAwaitingApproval(case.pending_step)
    sources, _ = TRANSITIONS[action]
    if case.status not in sources:
        raise TransitionNotAllowed(action, case.status, allowed_actions(case.status))
    on = body.on or clock.today()
    if on < case.opened_on:
        raise InvalidInput.field("on", "A step cannot happen before the case was opened.", "before_opened")
    # Steps are counted on their dates (cases.open rises and falls with them), so they must come in
    # date order: a closure dated behind a later reopening would close the case twice on paper.
    last = await repo.last_step_on(session, case.id)
    if last is not None and on < last:
        raise InvalidInput.field("on", f"A step cannot be dated before the case's last step ({last.isoformat()}).",
                                 "before_last_step")
    reason = body.reason if isinstance(body, CloseInput) else None
    if action == "close" and case.status in OPEN_STATUSES:
        if reason == "completed" and case.status != CaseState.evaluation:
            raise InvalidInput.field("reason", "A case closes as completed only after its evaluation; "
                                     "give another reason for an early closure.", "early_completion")
    if await approvals.needs_approval(session, default_steps, case, action):
        approvals.submit(session, principal, case, action, on, reason, body.note, expected_version)
        return True
    await apply_step(session, principal, case, action, on, reason, body.note, expected_version)
    return False


async def apply_step(session: AsyncSession, principal: Principal, case: Case, action: str, on: date,
                     reason: str | None, note: str | None, expected_version: int | None) -> None:
    """The step takes effect: the case's new status, its event and counts."""
    _, target = TRANSITIONS[action]
    if action == "close" and case.status in OPEN_STATUSES:
        case.closed_on, case.close_reason = on, reason
    elif action == "reopen":
        case.closed_on = case.close_reason = None
    touch(case, principal, expected_version)
    case.pending_step = None
    from_status, case.status = case.status, target.value
    event = new_event(case, principal, action, from_status, on, reason, note)
    session.add(event)
    rollup = Rollup()
    rollup.case_event(case, event, +1)
    await rollup.write(session)


async def delete(session: AsyncSession, principal: Principal, case: Case, expected_version: int) -> None:
    """A tombstone for the case and everything filed under it; its counts are taken back."""
    touch(case, principal, expected_version)
    now = datetime.now(timezone.utc)
    case.deleted_at = now
    rollup = Rollup()
    for event in await repo.events(session, case.id):
        rollup.case_event(case, event, -1)
    for record in await repo.live_children(session, ServiceRecord, case.id, for_update=True):
        rollup.service_record(record, -1)
    for model in (*CASE_RECORDS, ServiceRecord, CaseEvent, Approval):
        await repo.tombstone_children(session, model, case.id, principal.user_id)
    await rollup.write(session)


async def history(session: AsyncSession, case: Case) -> list[CaseEvent]:
    return await repo.events(session, case.id)


async def open_work(session: AsyncSession, station_path: str) -> dict[str, int]:
    """Cases still being worked under a station: open (as cases.open counts them) and in follow-up."""
    by_status = await repo.unclosed_under(session, station_path)
    return {"open_cases": sum(n for status, n in by_status.items() if status in OPEN_STATUSES),
            "follow_up_cases": by_status.get(CaseState.follow_up, 0)}
