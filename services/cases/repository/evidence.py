"""The project's cases closed without a closure report (结案报告): the evidence an evaluation asks
for every closure."""

from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Attachment, Case
from services.cases.repository.project_stats import _project_cases
from services.cases.schemas.cases import CaseState

LIMIT = 1000


async def closed_without(session: AsyncSession, project_id: str, paths: list[str], from_on: date, to_on: date,
                         purpose: str) -> list[tuple[str, date]]:
    """(id, closed_on) of the project's cases closed in [from_on, to_on] with no live file of `purpose`."""
    has_file = exists().where(Attachment.owner_table == "case", Attachment.owner_id == Case.id,
                              Attachment.purpose == purpose, Attachment.deleted_at.is_(None))
    stmt = (select(Case.id, Case.closed_on)
            .where(*_project_cases(project_id, paths), Case.status.in_((CaseState.closed.value, CaseState.follow_up.value)),
                   Case.closed_on >= from_on,
                   Case.closed_on <= to_on, ~has_file)
            .order_by(Case.closed_on, Case.id).limit(LIMIT))
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
