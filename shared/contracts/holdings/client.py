"""The gateway's side: every service asked at once, with the gateway's service token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from shared.contracts.calls import Service, or_none
from shared.contracts.holdings.schemas import Holdings, HoldingsQuery

log = logging.getLogger("haolin.contracts.holdings")
PATH = "/internal/holdings"


class HoldingsUnknown(Exception):
    """Services that did not answer: what they hold is unknown."""

    def __init__(self, services: list[str]) -> None:
        super().__init__(", ".join(services))
        self.services = services


async def _holdings(service: Service, query: HoldingsQuery) -> Holdings:
    r = await service.http.post(PATH, json=query.model_dump(), headers=service.headers())
    r.raise_for_status()
    return Holdings.model_validate(r.json())


async def station_holdings(services: Mapping[str, Service], station_path: str, timeout_s: float) -> dict[str, Holdings]:
    """Each service's holdings under `station_path`; HoldingsUnknown names those that did not answer."""
    query = HoldingsQuery(station_path=station_path)
    names = list(services)
    answers = await asyncio.gather(*(or_none(_holdings(services[n], query), n, "holdings", log, timeout_s)
                                     for n in names))
    failed = [n for n, a in zip(names, answers, strict=True) if a is None]
    if failed:
        raise HoldingsUnknown(failed)
    return dict(zip(names, answers, strict=True))
