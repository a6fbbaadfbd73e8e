"""The gateway's side: every service asked at once, with the gateway's service token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import httpx
from pydantic import ValidationError

from shared.contracts.holdings.schemas import Holdings, HoldingsQuery

log = logging.getLogger("haolin.contracts.holdings")
PATH = "/internal/holdings"


class HoldingsUnknown(Exception):
    """Services that did not answer: what they hold is unknown."""

    def __init__(self, services: list[str]) -> None:
        super().__init__(", ".join(services))
        self.services = services


async def _ask(client: httpx.AsyncClient, service: str, token: str, query: HoldingsQuery,
               timeout_s: float) -> Holdings | None:
    try:
        async with asyncio.timeout(timeout_s):
            r = await client.post(PATH, json=query.model_dump(), headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        return Holdings.model_validate(r.json())
    except (httpx.HTTPError, TimeoutError, OSError, ValueError, ValidationError) as exc:
        # The exception type only: an upstream message may echo the station path.
        log.warning("holdings: %s failed: %s", service, type(exc).__name__)
        return None


async def station_holdings(clients: Mapping[str, httpx.AsyncClient], token: str, station_path: str,
                           timeout_s: float) -> dict[str, Holdings]:
    """Each service's holdings under `station_path`; HoldingsUnknown names those that did not answer."""
    query = HoldingsQuery(station_path=station_path)
    names = list(clients)
    answers = await asyncio.gather(*(_ask(clients[n], n, token, query, timeout_s) for n in names))
    failed = [n for n, a in zip(names, answers, strict=True) if a is None]
    if failed:
        raise HoldingsUnknown(failed)
    return dict(zip(names, answers, strict=True))
