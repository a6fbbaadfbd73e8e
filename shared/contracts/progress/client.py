"""The gateway's side: the cases service asked for a project's casework figures."""

from __future__ import annotations

import logging

from shared.contracts.calls import Service, or_none
from shared.contracts.progress.schemas import ProjectStatsAnswer, ProjectStatsQuery

log = logging.getLogger("haolin.gateway.stats")
PATH = "/internal/project-stats"


async def _answer(service: Service, query: ProjectStatsQuery) -> ProjectStatsAnswer:
    r = await service.http.post(PATH, json=query.model_dump(mode="json", by_alias=True), headers=service.headers())
    r.raise_for_status()
    return ProjectStatsAnswer.model_validate_json(r.content)


async def project_stats(service: Service, query: ProjectStatsQuery, timeout_s: float) -> ProjectStatsAnswer | None:
    """The figures, or None when the service failed or was late: the caller names it in `degraded`."""
    return await or_none(_answer(service, query), service.name, f"stats: {PATH}", log, timeout_s)
