"""Supervision of casework: the approval queue and decisions, approval rules per station, and the
supervisors' assignments to stations (service/approvals.py, service/decisions.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import DefaultStepsDep, ReadSessionDep, SubtreeDep, WriteSessionDep
from services.cases.errors import ApprovalNotFound, AssignmentNotFound
from services.cases.models import Approval, Assessment, Case, Station, SupervisorAssignment, ServicePlan
from services.cases.repository import approvals as repo
from services.cases.repository import cases as case_repo
from services.cases.schemas.approvals import (ApprovalCase, ApprovalRead, ApprovalRuleInput, ApprovalRuleRead,
                                              ApprovalStatus, ApproveInput, AssignmentCreate, AssignmentRead, CaseFile,
                                              ReturnInput)
from services.cases.schemas.cases import CaseEventRead, CaseRead
from services.cases.schemas.records import AssessmentRead, PlanRead
from services.cases.service import approvals as service
from services.cases.service import decisions
from shared.audit import log_reads
from shared.etag import OptionalIfMatchDep
from shared.pagination import Page, PageParams, keyset, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalReaderOr404, Principal, PrincipalDep
from shared.records import shown, withhold
from shared.repository import page
from shared.schemas import RowId
from shared.stations import station_to_read

router = APIRouter(tags=["supervision"])
ORDER = [Approval.created_at, Approval.id]
ASSIGNMENT_ORDER = [SupervisorAssignment.created_at, SupervisorAssignment.id]


def _read(approval: Approval, case: Case, principal: Principal) -> ApprovalRead:
    """Notes and comments are about the person: shown to the roles that read case notes."""
    sensitive = principal.may_read_sensitive
    return ApprovalRead(id=approval.id, case_id=approval.case_id, station_id=approval.station_id, step=approval.step,
                        from_status=approval.from_status, status=approval.status, on=approval.occurred_on,
                        reason=approval.reason, note=approval.note if sensitive else None,
                        submitted_by=approval.created_by, submitted_at=approval.created_at,
                        decided_by=approval.decided_by, decided_at=approval.decided_at,
                        comments=approval.comments if sensitive else None,
                        case=ApprovalCase.model_validate(case))


@router.get("/v1/approvals", response_model=Page[ApprovalRead])
async def list_approvals(principal: PersonalReaderOr403, session: ReadSessionDep, request: Request,
                         paging: Annotated[PageParams, Depends(page_params)],
                         status_: Annotated[ApprovalStatus | None, Query(alias="status")] = None,
                         case_id: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Steps submitted for approval, oldest first: a supervisor's queue (`status=pending`) holds those of
    the stations assigned to them; other readers see those of their subtree."""
    rows = (await session.execute(keyset(repo.list_query(principal, status_, case_id), paging, ORDER,
                                         descending=False))).all()
    await log_reads(request, "approval", [(a.id, a.station_path) for a, _ in rows[:paging.limit]])
    return make_page(rows, paging, lambda row: [row[0].created_at, row[0].id],
                     lambda row: _read(row[0], row[1], principal))


@router.get("/v1/approvals/{approval_id}", response_model=ApprovalRead)
async def get_approval(approval_id: str, principal: PersonalReaderOr404, session: ReadSessionDep,
                       request: Request) -> ApprovalRead:
    """One submitted step, its case and the decision on it."""
    found = await repo.approval(session, principal, approval_id)
    if found is None:
        raise ApprovalNotFound()
    await log_reads(request, "approval", [(found[0].id, found[0].station_path)])
    return _read(*found, principal)


@router.get("/v1/approvals/{approval_id}/case", response_model=CaseFile)
async def approval_case_file(approval_id: str, principal: PersonalReaderOr404, session: ReadSessionDep,
                             request: Request) -> CaseFile:
    """The case of a submitted step as its reviewer reads it: the case, its assessments, service plans and
    steps, masked as for the reader's role. An assigned supervisor reads it wherever their own station is."""
    found = await repo.approval(session, principal, approval_id)
    if found is None:
        raise ApprovalNotFound()
    _, case = found
    assessments = await case_repo.live_children(session, Assessment, case.id)
    plans = await case_repo.live_children(session, ServicePlan, case.id)
    events = await case_repo.events(session, case.id)
    await log_reads(request, "case", [(case.id, case.station_path)])
    await log_reads(request, "assessment", [(r.id, r.station_path) for r in assessments])
    await log_reads(request, "service_plan", [(r.id, r.station_path) for r in plans])
    sensitive = principal.may_read_sensitive
    return CaseFile(
        approval_id=approval_id, case=withhold(CaseRead.model_validate(case), Case.__table__, principal),
        assessments=[shown(AssessmentRead, Assessment.__table__, principal)(r) for r in assessments],
        plans=[shown(PlanRead, ServicePlan.__table__, principal)(r) for r in plans],
        events=[CaseEventRead(id=e.id, action=e.action, from_status=e.from_status, to_status=e.to_status,
                              occurred_on=e.occurred_on, at=e.created_at, by=e.created_by, reason=e.reason,
                              note=e.note if sensitive else None) for e in events])


@router.post("/v1/approvals/{approval_id}/approve", response_model=ApprovalRead)
async def approve_step(approval_id: str, principal: PrincipalDep, session: WriteSessionDep,
                       body: ApproveInput | None = None) -> ApprovalRead:
    """Approve a pending step (a supervisor assigned to the case's station): it takes effect as submitted."""
    approval, case = await decisions.approve(session, principal, approval_id, body.comments if body else None)
    return _read(approval, case, principal)


@router.post("/v1/approvals/{approval_id}/return", response_model=ApprovalRead)
async def return_step(approval_id: str, body: ReturnInput, principal: PrincipalDep,
                      session: WriteSessionDep) -> ApprovalRead:
    """Return a pending step with comments: it goes back to the worker's caseload, not taken."""
    approval, case = await decisions.send_back(session, principal, approval_id, body.comments)
    return _read(approval, case, principal)


@router.get("/v1/approval-rules/{station_id}", response_model=ApprovalRuleRead)
async def get_approval_rule(station_id: RowId, principal: PrincipalDep, session: ReadSessionDep,
                            steps: DefaultStepsDep) -> ApprovalRuleRead:
    """The steps that need approval at a station: its own rule, or the nearest one above it, or the default."""
    path = await station_to_read(session, Station, principal, station_id)
    return await service.effective_rule(session, steps, station_id, path)


@router.put("/v1/approval-rules/{station_id}", response_model=ApprovalRuleRead)
async def set_approval_rule(station_id: RowId, body: ApprovalRuleInput, principal: PrincipalDep,
                            session: WriteSessionDep, steps: DefaultStepsDep) -> ApprovalRuleRead:
    """Set the station's own rule, for it and every station below that sets none (administrator or station head)."""
    service.check_manager(principal)
    path = await station_to_read(session, Station, principal, station_id)
    return await service.set_rule(session, principal, steps, station_id, path, body)


@router.delete("/v1/approval-rules/{station_id}", status_code=status.HTTP_204_NO_CONTENT)
async def clear_approval_rule(station_id: RowId, principal: PrincipalDep, session: WriteSessionDep) -> Response:
    """Remove the station's own rule: it inherits again from the stations above it."""
    service.check_manager(principal)
    await station_to_read(session, Station, principal, station_id)
    await service.clear_rule(session, principal, station_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/supervisor-assignments", response_model=Page[AssignmentRead])
async def list_assignments(principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep,
                           paging: Annotated[PageParams, Depends(page_params)],
                           supervisor_id: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Supervisors assigned to the stations of your subtree; a supervisor sees their own assignments."""
    rows = await page(session, repo.assignments_query(principal, supervisor_id, subtree), paging, ASSIGNMENT_ORDER)
    return make_page(rows, paging, ["created_at", "id"], AssignmentRead.model_validate)


@router.post("/v1/supervisor-assignments", response_model=AssignmentRead, status_code=status.HTTP_201_CREATED)
async def assign_supervisor(body: AssignmentCreate, principal: PrincipalDep, session: WriteSessionDep,
                            response: Response) -> AssignmentRead:
    """Assign a supervisor to a station of your subtree (administrator or station head); they need not
    belong to it. Assigning again answers the assignment there is."""
    assignment, created = await service.assign(session, principal, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return AssignmentRead.model_validate(assignment)


@router.delete("/v1/supervisor-assignments/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_assignment(assignment_id: str, principal: PrincipalDep, session: WriteSessionDep,
                            version: OptionalIfMatchDep) -> Response:
    """End an assignment: the supervisor loses the station's approvals with their next request."""
    service.check_manager(principal)
    assignment = await session.scalar(repo.assignments_query(principal, None, None)
                                      .where(SupervisorAssignment.id == assignment_id).with_for_update())
    if assignment is None:
        raise AssignmentNotFound()
    service.unassign(principal, assignment, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
