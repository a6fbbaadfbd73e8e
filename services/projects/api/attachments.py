"""Files on group sessions and community activities (sign-in sheets, photos: the evidence an
evaluation checks) and on evaluations (the evaluator's report), at .../attachments under each
record (shared/attachments)."""

from fastapi import APIRouter

from services.projects.deps import (EvaluationWriterDep, ReadSessionDep, activity_for_read, project_for_read)
from services.projects.models import Activity, Attachment, Evaluation, GroupSession, Project
from shared.attachments import Owner, attachment_router
from shared.contracts.tablet_attachments.server import TabletOwner, tablet_upload_router
from shared.records import RecordNotFound, live_or_404
from shared.principals import PersonalReaderOr404, PersonalWriterOr404, PrincipalDep, Role

# `sign_in_sheet` is the evidence every session and activity needs (a project's progress names those lacking one).
EVIDENCE_PURPOSES = ("sign_in_sheet", "photo", "other")
EVALUATION_PURPOSES = ("evaluation_report", "other")


async def _session(session, principal, group_id: str, session_id: str) -> GroupSession:
    return await live_or_404(session, GroupSession, session_id, principal, where=(GroupSession.group_id == group_id,),
                             kind="session")


async def session_for_read(group_id: str, session_id: str, principal: PersonalReaderOr404,
                           session: ReadSessionDep) -> GroupSession:
    return await _session(session, principal, group_id, session_id)


async def session_for_upload(group_id: str, session_id: str, principal: PersonalWriterOr404,
                             session: ReadSessionDep) -> GroupSession:
    return await _session(session, principal, group_id, session_id)


async def activity_for_upload(activity_id: str, principal: PersonalWriterOr404, session: ReadSessionDep) -> Activity:
    return await live_or_404(session, Activity, activity_id, principal, kind="activity")


async def _evaluation(session, principal, project: Project, evaluation_id: str) -> Evaluation:
    return await live_or_404(session, Evaluation, evaluation_id, principal,
                             where=(Evaluation.project_id == project.id,), kind="evaluation")


async def evaluation_for_read(project_id: str, evaluation_id: str, principal: PrincipalDep,
                              session: ReadSessionDep) -> Evaluation:
    # An evaluator's report is for the project's staff and its purchaser (officials), not volunteers:
    # it may discuss the people served.
    if principal.role is Role.volunteer:
        raise RecordNotFound("evaluation")
    project = await project_for_read(project_id, principal, session)
    return await _evaluation(session, principal, project, evaluation_id)


async def evaluation_for_upload(project_id: str, evaluation_id: str, principal: EvaluationWriterDep,
                                session: ReadSessionDep) -> Evaluation:
    project = await live_or_404(session, Project, project_id, principal, kind="project")
    return await _evaluation(session, principal, project, evaluation_id)


SESSION = Owner(table="group_session", name="session", read=session_for_read, write=session_for_upload,
                purposes=EVIDENCE_PURPOSES, tags=["sessions", "attachments"])
ACTIVITY = Owner(table="activity", name="activity", read=activity_for_read, write=activity_for_upload,
                 purposes=EVIDENCE_PURPOSES, tags=["activities", "attachments"])
EVALUATION = Owner(table="evaluation", name="evaluation", read=evaluation_for_read, write=evaluation_for_upload,
                   purposes=EVALUATION_PURPOSES, tags=["evaluations", "attachments"])

router = APIRouter()
router.include_router(attachment_router("/v1/groups/{group_id}/sessions/{session_id}/attachments", SESSION, Attachment))
router.include_router(attachment_router("/v1/activities/{activity_id}/attachments", ACTIVITY, Attachment))
router.include_router(attachment_router("/v1/projects/{project_id}/evaluations/{evaluation_id}/attachments",
                                        EVALUATION, Attachment))
# Tablets' sign-in sheets and photos, relayed by the gateway, by the synced table of their record.
router.include_router(tablet_upload_router({"group_sessions": TabletOwner(SESSION, GroupSession),
                                            "activities": TabletOwner(ACTIVITY, Activity)}, Attachment))
