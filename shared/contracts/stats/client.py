"""The gateway's side of the counting contract: one service asked, within a deadline."""

from __future__ import annotations

import logging

from shared.contracts.calls import Counted, Service, or_none, posted_figures
from shared.contracts.stats.schemas import StatsQuery

log = logging.getLogger("haolin.gateway.stats")
PATH = "/internal/stats"


def body_of(query: StatsQuery) -> dict:
    """The query as it travels (`from`, `to`; no `metrics` when all are asked for)."""
    return query.model_dump(mode="json", by_alias=True, exclude_none=True)


async def stats(service: Service, query: StatsQuery, timeout_s: float) -> Counted | None:
    """The service's rows (StatsRow as dicts), or None when it failed or was late: it is then `degraded`."""
    # As plain dicts: validating up to MAX_ROWS rows as StatsRow would cost the gateway seconds,
    # and the figures read only their keys.
    rows = posted_figures(service, PATH, body_of(query), "rows")
    return await or_none(rows, service.name, f"stats: {PATH}", log, timeout_s)
