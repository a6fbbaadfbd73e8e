"""Answers the counting contract from the daily rollup and the served-day table, never from records.

volunteers.active is a distinct count: per group (period, station) it counts each volunteer
once however many days they served, from models.ServedDay, by way of the sets of volunteers kept by
ancestor and month (repository/stats.py `distinct_served`). Grouping by population gives the
same rows under shared.stats.ALL: volunteer metrics have no population breakdown.
"""

import functools

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.volunteers.repository import stats as repo
from shared import rollup
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import Metric

SUMMED = (Metric.volunteers_registered, Metric.volunteer_hours, Metric.volunteer_person_times)
METRICS = (*SUMMED, Metric.volunteers_active)


async def answer(session: AsyncSession, query: StatsQuery,
                 keep: async_sessionmaker[AsyncSession] | None = None) -> list[dict]:
    """`keep`: where the sets of active volunteers a reader builds are kept (shared.distinct_sets)."""
    return await rollup.answer(session, query, METRICS, repo.sums,
                               computed={Metric.volunteers_active: functools.partial(repo.distinct_served, keep=keep)})
