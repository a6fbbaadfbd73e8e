"""Evidence for evaluation (DOMAIN.md "Evidence"): which records a target counts lack the file an
evaluator checks. Every group session and every community activity needs its sign-in sheet
(签到表); the sessions count toward the group targets, the activities toward the community ones.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.api.attachments import EVIDENCE_PURPOSES
from services.projects.models import Activity, GroupSession
from services.projects.repository.evidence import without_file
from services.projects.schemas.projects import TargetProgress
from shared.attachments.schemas import EvidenceGap

SIGN_IN_SHEET = EVIDENCE_PURPOSES[0]
# Target metric -> the records it counts whose evidence is checked.
COUNTED = {"groups": GroupSession, "group_sessions": GroupSession, "person_times.group": GroupSession,
           "activities": Activity, "person_times.community": Activity, "resources.linked_yuan": Activity}


async def mark_gaps(session: AsyncSession, project_id: str, from_on: date, to_on: date,
                    rows: list[TargetProgress]) -> None:
    """Give each target this service counts the records it counts that lack their sign-in sheet."""
    gaps: dict[type, list[EvidenceGap]] = {}
    for row in rows:
        model = COUNTED.get(row.metric)
        if model is None or row.external:
            continue
        if model not in gaps:
            found = await without_file(session, model, project_id, from_on, to_on, SIGN_IN_SHEET)
            gaps[model] = [EvidenceGap(record=model.__tablename__, id=i, on=on, lacking=SIGN_IN_SHEET)
                           for i, on in found]
        row.lacking_evidence = gaps[model]
