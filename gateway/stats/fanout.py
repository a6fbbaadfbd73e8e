"""Asking every service the counting contract at once, within the stats deadline.

A service that fails or is late is left out and named: its figures become missing, the
rest are served (ARCHITECTURE.md "Counting contract"). The gateway calls with its own
service token; the caller's scope was already applied when the station was resolved.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx

from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from shared.auth import TokenSigner
from shared.stats import PERSONS_SOURCES

log = logging.getLogger("haolin.gateway.stats")


@dataclass(frozen=True)
class Ask:
    """One computation: what to ask every service. Hashable: it is the cache key too."""

    station_path: str
    from_on: str
    to_on: str
    group_by: tuple[str, ...] = ()
    metrics: tuple[str, ...] | None = None  # None: all each service knows
    services: tuple[str, ...] = SERVICES
    stats: bool = True  # the counting contract's rows
    persons: bool = False  # the person sets, from those of `services` that keep them
    exact_limit: int = 10_000


@dataclass
class Gathered:
    rows: dict[str, list[dict]] = field(default_factory=dict)  # service -> stats rows
    persons: dict[str, list[dict]] = field(default_factory=dict)  # service -> person groups
    degraded: set[str] = field(default_factory=set)


async def call(upstreams: Upstreams, service: str, path: str, payload: dict, headers: dict,
               timeout_s: float) -> dict | None:
    """POST to a service's internal endpoint: its JSON answer, or None when it failed or was late."""
    try:
        async with asyncio.timeout(timeout_s):
            r = await upstreams.client(service).post(path, json=payload, headers=headers)
        r.raise_for_status()
        return r.json()
    except (httpx.HTTPError, TimeoutError, OSError, ValueError) as exc:
        # The exception type only: upstream messages may echo the query.
        log.warning("stats: %s %s failed: %s", service, path, type(exc).__name__)
        return None


async def gather(upstreams: Upstreams, signer: TokenSigner, ask: Ask, timeout_s: float) -> Gathered:
    body = {"station_path": ask.station_path, "from": ask.from_on, "to": ask.to_on, "group_by": list(ask.group_by)}
    if ask.metrics is not None:
        body["metrics"] = list(ask.metrics)
    headers = {"Authorization": f"Bearer {signer.service_token()}"}
    calls: list[tuple[str, str, dict]] = [(s, "/internal/stats", body) for s in ask.services if ask.stats]
    if ask.persons:
        calls += [(s, "/internal/persons", {**body, "exact_limit": ask.exact_limit})
                  for s in PERSONS_SOURCES if s in ask.services]

    answers = await asyncio.gather(*(call(upstreams, service, path, payload, headers, timeout_s)
                                     for service, path, payload in calls))
    gathered = Gathered()
    for (service, path, _), answer in zip(calls, answers, strict=True):
        if answer is None:
            gathered.degraded.add(service)
        elif path == "/internal/stats":
            gathered.rows[service] = answer["rows"]
        else:
            gathered.persons[service] = answer["groups"]
    # A service that answered one call but not the other is out as a whole: half its figures
    # next to the other half of another moment would not add up.
    for service in gathered.degraded:
        gathered.rows.pop(service, None)
        gathered.persons.pop(service, None)
    return gathered
