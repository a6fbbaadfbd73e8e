"""Answers the counting contract from the daily rollup and the served-day table, never from records.

volunteers.active is a distinct count: per group (period, station) it counts each volunteer
once however many days they served, from models.ServedDay. Grouping by population gives the
same rows under shared.stats.ALL: volunteer metrics have no population breakdown.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.repository import stats as repo
from shared import rollup
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import Metric

SUMMED = (Metric.volunteers_registered, Metric.volunteer_hours, Metric.volunteer_person_times)
METRICS = (*SUMMED, Metric.volunteers_active)


async def answer(session: AsyncSession, query: StatsQuery) -> list[dict]:
    return await rollup.answer(session, query, METRICS, repo.sums,
                               computed={Metric.volunteers_active: repo.distinct_served})
