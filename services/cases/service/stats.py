"""Answers the counting contract from the daily rollup, except roster coverage, read from the rosters,
visits and visit rules at question time (service/coverage.py).

cases.open is a stock (shared.stats.STOCK_METRICS): per period, its level at the period's end.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.repository import stats as repo
from services.cases.service import coverage
from shared import rollup
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import Metric

METRICS = (Metric.person_times_casework, Metric.person_times_visit, Metric.resources_linked, Metric.cases_new,
           Metric.cases_closed, Metric.cases_reopened, Metric.cases_open, Metric.beneficiaries_registered,
           Metric.roster_members, Metric.roster_visited, Metric.roster_overdue, Metric.supervision_sessions,
           Metric.supervision_hours, Metric.supervision_cases_reviewed)
COVERAGE = {m: coverage.reader(m) for m in (Metric.roster_members, Metric.roster_visited, Metric.roster_overdue)}


async def answer(session: AsyncSession, query: StatsQuery, keep: object = None) -> list[dict]:
    """`keep` is for the services that keep distinct sets in their answers (volunteers): none here."""
    return await rollup.answer(session, query, METRICS, repo.sums, computed=COVERAGE)
