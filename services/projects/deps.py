"""Request dependencies: sessions, the principal by what it may do, and records loaded in scope.

Groups, sessions and activities name beneficiaries, so roles that see aggregates only get 404
for them exactly as for a missing id. Projects are contracts, not personal records: officials
read them and their progress, and a station reads the projects of the stations above it.
"""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Group, Project, Station
from services.projects.repository import projects as projects_repo
from shared.db import read_session, write_session
from shared.errors import Forbidden
from shared.etag import required_version
from shared.principals import PersonalReaderOr404, PersonalWriterOr404, Principal, PrincipalDep, Role
from shared.records import RecordNotFound
from shared.repository import get_live
from shared.stations import subtree_dependency

WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
IfMatchDep = Annotated[int, Depends(required_version)]

PROJECT_WRITERS = frozenset({Role.admin, Role.station_head})
# Evaluations are often entered by the purchaser's side (an official) as well.
EVALUATION_WRITERS = PROJECT_WRITERS | {Role.official}


async def project_writer(principal: PrincipalDep) -> Principal:
    if principal.role not in PROJECT_WRITERS:
        raise Forbidden("Only a station head or an administrator can change projects.")
    return principal


async def evaluation_writer(principal: PrincipalDep) -> Principal:
    if principal.role not in EVALUATION_WRITERS:
        raise Forbidden("This role cannot record evaluations.")
    return principal


ProjectWriterDep = Annotated[Principal, Depends(project_writer)]
EvaluationWriterDep = Annotated[Principal, Depends(evaluation_writer)]


async def project_for_read(project_id: str, principal: PrincipalDep, session: ReadSessionDep) -> Project:
    project = await projects_repo.get_visible(session, principal, project_id)
    if project is None:
        raise RecordNotFound("project")
    return project


async def _own_project(session: AsyncSession, principal: Principal, project_id: str) -> Project:
    # Changes only within the caller's own subtree, never to a project of a station above.
    project = await get_live(session, Project, project_id, principal, for_update=True)
    if project is None:
        raise RecordNotFound("project")
    return project


async def project_for_write(project_id: str, principal: ProjectWriterDep, session: WriteSessionDep) -> Project:
    return await _own_project(session, principal, project_id)


async def project_for_evaluation(project_id: str, principal: EvaluationWriterDep,
                                 session: WriteSessionDep) -> Project:
    return await _own_project(session, principal, project_id)


ProjectDep = Annotated[Project, Depends(project_for_read)]
ProjectForUpdateDep = Annotated[Project, Depends(project_for_write)]
ProjectForEvaluationDep = Annotated[Project, Depends(project_for_evaluation)]


async def _load(session: AsyncSession, model, record_id: str, principal: Principal, for_update: bool = False):
    record = await get_live(session, model, record_id, principal, for_update=for_update)
    if record is None:
        raise RecordNotFound(model.__tablename__)
    return record


async def group_for_read(group_id: str, principal: PersonalReaderOr404, session: ReadSessionDep) -> Group:
    return await _load(session, Group, group_id, principal)


async def group_for_write(group_id: str, principal: PersonalWriterOr404, session: WriteSessionDep) -> Group:
    return await _load(session, Group, group_id, principal, for_update=True)


async def activity_for_read(activity_id: str, principal: PersonalReaderOr404, session: ReadSessionDep) -> Activity:
    return await _load(session, Activity, activity_id, principal)


async def activity_for_write(activity_id: str, principal: PersonalWriterOr404, session: WriteSessionDep) -> Activity:
    return await _load(session, Activity, activity_id, principal, for_update=True)


GroupDep = Annotated[Group, Depends(group_for_read)]
GroupForUpdateDep = Annotated[Group, Depends(group_for_write)]
ActivityDep = Annotated[Activity, Depends(activity_for_read)]
ActivityForUpdateDep = Annotated[Activity, Depends(activity_for_write)]


SubtreeDep = Annotated[str | None, Depends(subtree_dependency(Station))]
