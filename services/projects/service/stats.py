"""Answers the counting contract from the daily rollup, never from the records themselves."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.repository import stats as repo
from shared import rollup
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import PROJECT_METRICS, Metric

# All of them flows (summed inside the period); this service keeps no stock metric. The projects'
# own figures are read from the project table, all four at once (repository/stats.py project_figures).
METRICS = (Metric.person_times_group, Metric.person_times_community, Metric.groups, Metric.group_sessions,
           Metric.activities, Metric.resources_linked, *PROJECT_METRICS)
PROJECTS = {PROJECT_METRICS: repo.project_figures}


async def answer(session: AsyncSession, query: StatsQuery, keep: object = None) -> list[dict]:
    """`keep` is for the services that keep distinct sets in their answers (volunteers): none here."""
    return await rollup.answer(session, query, METRICS, repo.sums, computed=PROJECTS)
