"""The gateway's side: one service's person sets, within a deadline."""

from __future__ import annotations

import logging

from shared.contracts.calls import Counted, Service, or_none, posted_figures
from shared.contracts.persons.schemas import PersonsQuery
from shared.contracts.stats.client import body_of

log = logging.getLogger("haolin.gateway.stats")
PATH = "/internal/persons"


async def persons(service: Service, query: PersonsQuery, timeout_s: float) -> Counted | None:
    """The service's groups (PersonsGroup as dicts), or None when it failed or was late."""
    # PersonsGroup as dicts: a bitmap is decoded once, by the union.
    groups = posted_figures(service, PATH, body_of(query), "groups")
    return await or_none(groups, service.name, f"stats: {PATH}", log, timeout_s)
