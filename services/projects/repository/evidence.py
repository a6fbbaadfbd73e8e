"""The project's sessions and activities that lack a file of a purpose (a sign-in sheet): the
evidence an evaluation asks for each of them."""

from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Attachment

LIMIT = 1000  # a contract's sessions and activities: a few dozen to a few hundred


def _has_file(table: str, owner_id, purpose: str):
    return exists().where(Attachment.owner_table == table, Attachment.owner_id == owner_id,
                          Attachment.purpose == purpose, Attachment.deleted_at.is_(None))


async def without_file(session: AsyncSession, model, project_id: str, from_on: date, to_on: date,
                       purpose: str) -> list[tuple[str, date]]:
    """(id, held_on) of the project's live sessions or activities (`model`) held in [from_on, to_on] with no
    live file of `purpose`, oldest first."""
    stmt = (select(model.id, model.held_on)
            .where(model.project_id == project_id, model.deleted_at.is_(None), model.held_on >= from_on,
                   model.held_on <= to_on, ~_has_file(model.__tablename__, model.id, purpose))
            .order_by(model.held_on, model.id).limit(LIMIT))
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


