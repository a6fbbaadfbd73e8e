"""The gateway's side: one service's sets of active stations and workers, within a deadline."""

from __future__ import annotations

import logging

from shared.contracts.calls import Counted, Service, or_none, posted_figures
from shared.contracts.stats.client import body_of
from shared.contracts.stats.schemas import StatsQuery

log = logging.getLogger("haolin.gateway.stats")
PATH = "/internal/activity"


async def activity(service: Service, query: StatsQuery, timeout_s: float) -> Counted | None:
    """The service's groups (ActivityGroup as dicts), or None when it failed or was late."""
    groups = posted_figures(service, PATH, body_of(query), "groups")
    return await or_none(groups, service.name, f"stats: {PATH}", log, timeout_s)
