"""The daily rollup (shared.rollup on this service's table): adjusted in the record's transaction, summed per stats query."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, DailyStat
from shared import rollup


async def add(session: AsyncSession, deltas: dict) -> None:
    await rollup.add(session, DailyStat, deltas)


async def add_raw(conn, deltas: dict) -> None:
    """`add` on a lean write path's asyncpg connection (shared.db.raw_connection)."""
    await rollup.add_raw(conn, DailyStat, deltas)


async def sums(session: AsyncSession, **query) -> list[dict]:
    return await rollup.sums(session, DailyStat, **query)


async def person_numbers(session: AsyncSession, beneficiary_ids: set[str]) -> dict[str, int]:
    """The person number of each beneficiary (deleted ones too: their records still count)."""
    if not beneficiary_ids:
        return {}
    stmt = select(Beneficiary.id, Beneficiary.person_no).where(Beneficiary.id.in_(beneficiary_ids))
    return dict((await session.execute(stmt)).all())
