"""/v1/projects: contracts, their lifecycle, progress against targets, and evaluations."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.projects.deps import (EvaluationWriterDep, IfMatchDep, ProjectDep,
                                    ProjectForEvaluationDep, ProjectForUpdateDep, ProjectWriterDep, ReadSessionDep,
                                    SubtreeDep, WriteSessionDep)
from services.projects.models import Evaluation, Project
from services.projects.repository import projects as repo
from services.projects.schemas.projects import (EvaluationCreate, EvaluationRead, EvaluationUpdate, ProjectCreate,
                                                ProjectLookupQuery, ProjectProgress, ProjectRead, ProjectStatus,
                                                ProjectUpdate)
from services.projects.service import progress as progress_service
from services.projects.service import projects as service
from shared.etag import OptionalIfMatchDep, answer_created, set_etag
from shared.contracts.lookup.schemas import LookupAnswer, LookupItem
from shared.pagination import Page, PageParams, make_page, page_params
from shared.records import live_or_404
from shared.repository import page
from shared.principals import Principal, PrincipalDep

router = APIRouter(prefix="/v1/projects", tags=["projects"])
ORDER = [Project.starts_on, Project.id]


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    principal: PrincipalDep, session: ReadSessionDep, subtree: SubtreeDep,
    paging: Annotated[PageParams, Depends(page_params)],
    status_: Annotated[ProjectStatus | None, Query(alias="status")] = None,
    active_on: Annotated[date | None, Query(description="Projects whose period includes this day")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=50, description="Name fragment")] = None,
) -> dict:
    """Projects of your subtree and of the stations above it, latest start first."""
    stmt = repo.list_query(principal, station_path=subtree, status=status_, active_on=active_on, q=q)
    rows = await page(session, stmt, paging, ORDER)
    return make_page(rows, paging, ["starts_on", "id"], ProjectRead.model_validate)


@router.post("", response_model=ProjectRead, status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectCreate, principal: ProjectWriterDep, session: WriteSessionDep,
                         response: Response) -> ProjectRead:
    """Record a purchased-service project with its budget and output targets (a client id makes retries safe)."""
    project, created = await service.create(session, principal, body)
    answer_created(response, created, project.version, f"/v1/projects/{project.id}")
    return ProjectRead.model_validate(project)


@router.post("/lookup", response_model=LookupAnswer)
async def lookup_projects(body: ProjectLookupQuery, principal: PrincipalDep, session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are live projects you can see that cover the station: it lies in the subtree
    of a station the project covers (of the project's own station when it lists none). Others are left out."""
    found = await service.covering(session, principal, list(dict.fromkeys(body.ids)), body.station_id)
    return LookupAnswer(items=[LookupItem(id=p.id, station_id=p.station_id) for p in found])


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project: ProjectDep, response: Response) -> ProjectRead:
    """One project."""
    set_etag(response, project.version)
    return ProjectRead.model_validate(project)


@router.patch("/{project_id}", response_model=ProjectRead)
async def update_project(body: ProjectUpdate, project: ProjectForUpdateDep, version: IfMatchDep,
                         principal: ProjectWriterDep, session: WriteSessionDep, response: Response) -> ProjectRead:
    """Change a project's contract data, budget or targets (If-Match required)."""
    await service.update(session, principal, project, version, body)
    set_etag(response, project.version)
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project: ProjectForUpdateDep, version: IfMatchDep, principal: ProjectWriterDep,
                         session: WriteSessionDep) -> Response:
    """Remove a project (soft delete; If-Match required); refused while it has groups or activities."""
    await service.delete(session, principal, project, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/progress", response_model=ProjectProgress)
async def project_progress(project: ProjectDep, session: ReadSessionDep) -> ProjectProgress:
    """Each target's current value counted here; targets counted by other services are marked external."""
    return await progress_service.progress(session, project)


async def _transition(action: str, project: Project, principal: Principal, version: int | None,
                      response: Response) -> ProjectRead:
    await service.transition(principal, project, action, version)
    set_etag(response, project.version)
    return ProjectRead.model_validate(project)


@router.post("/{project_id}/start", response_model=ProjectRead)
async def project_start(project: ProjectForUpdateDep, principal: ProjectWriterDep, version: OptionalIfMatchDep,
                        response: Response) -> ProjectRead:
    """Start a planned project (running)."""
    return await _transition("start", project, principal, version, response)


@router.post("/{project_id}/evaluate", response_model=ProjectRead)
async def project_evaluate(project: ProjectForUpdateDep, principal: ProjectWriterDep, version: OptionalIfMatchDep,
                           response: Response) -> ProjectRead:
    """Move a running project to evaluation (考核评估)."""
    return await _transition("evaluate", project, principal, version, response)


@router.post("/{project_id}/close", response_model=ProjectRead)
async def project_close(project: ProjectForUpdateDep, principal: ProjectWriterDep, version: OptionalIfMatchDep,
                        response: Response) -> ProjectRead:
    """Close a project that is running or under evaluation."""
    return await _transition("close", project, principal, version, response)


@router.post("/{project_id}/reopen", response_model=ProjectRead)
async def project_reopen(project: ProjectForUpdateDep, principal: ProjectWriterDep, version: OptionalIfMatchDep,
                         response: Response) -> ProjectRead:
    """Reopen a closed project, or take one back from evaluation (running)."""
    return await _transition("reopen", project, principal, version, response)


async def _evaluation(session, project: Project, evaluation_id: str, principal, for_update: bool = False):
    return await live_or_404(session, Evaluation, evaluation_id, principal, for_update=for_update,
                             where=(Evaluation.project_id == project.id,), kind="evaluation")


@router.get("/{project_id}/evaluations", response_model=Page[EvaluationRead], tags=["evaluations"])
async def list_evaluations(project: ProjectDep, principal: PrincipalDep, session: ReadSessionDep,
                           paging: Annotated[PageParams, Depends(page_params)]) -> dict:
    """The project's evaluations, latest first."""
    rows = await page(session, repo.evaluations_query(principal, project.id), paging,
                      [Evaluation.evaluated_on, Evaluation.id])
    return make_page(rows, paging, ["evaluated_on", "id"], EvaluationRead.model_validate)


@router.post("/{project_id}/evaluations", response_model=EvaluationRead, status_code=status.HTTP_201_CREATED,
             tags=["evaluations"])
async def add_evaluation(body: EvaluationCreate, project: ProjectForEvaluationDep, principal: EvaluationWriterDep,
                         session: WriteSessionDep, response: Response) -> EvaluationRead:
    """Record an evaluation: scores per dimension (their sum is the total), grade, notes."""
    record, created = await service.add_evaluation(session, principal, project, body)
    answer_created(response, created, record.version, f"/v1/projects/{project.id}/evaluations/{record.id}")
    return EvaluationRead.model_validate(record)


@router.get("/{project_id}/evaluations/{evaluation_id}", response_model=EvaluationRead, tags=["evaluations"])
async def get_evaluation(evaluation_id: str, project: ProjectDep, principal: PrincipalDep, session: ReadSessionDep,
                         response: Response) -> EvaluationRead:
    """One evaluation."""
    record = await _evaluation(session, project, evaluation_id, principal)
    set_etag(response, record.version)
    return EvaluationRead.model_validate(record)


@router.patch("/{project_id}/evaluations/{evaluation_id}", response_model=EvaluationRead, tags=["evaluations"])
async def update_evaluation(evaluation_id: str, body: EvaluationUpdate, project: ProjectForEvaluationDep,
                            version: IfMatchDep, principal: EvaluationWriterDep, session: WriteSessionDep,
                            response: Response) -> EvaluationRead:
    """Change an evaluation (If-Match required)."""
    record = await _evaluation(session, project, evaluation_id, principal, for_update=True)
    service.update_evaluation(principal, record, version, body)
    set_etag(response, record.version)
    return EvaluationRead.model_validate(record)


@router.delete("/{project_id}/evaluations/{evaluation_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["evaluations"])
async def delete_evaluation(evaluation_id: str, project: ProjectForEvaluationDep, version: IfMatchDep,
                            principal: EvaluationWriterDep, session: WriteSessionDep) -> Response:
    """Remove an evaluation (soft delete; If-Match required)."""
    record = await _evaluation(session, project, evaluation_id, principal, for_update=True)
    service.delete_evaluation(principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
