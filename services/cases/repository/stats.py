"""The daily rollup (shared.rollup on this service's table): adjusted in the record's transaction, summed per stats query."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import DailyStat
from shared import rollup


async def add(session: AsyncSession, deltas: dict) -> None:
    await rollup.add(session, DailyStat, deltas)


async def sums(session: AsyncSession, **query) -> list[dict]:
    return await rollup.sums(session, DailyStat, **query)
