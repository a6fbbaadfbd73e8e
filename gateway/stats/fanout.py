"""Asking every service the counting contract at once, within the stats deadline.

A service that fails or is late is left out and named: its figures become missing, the
rest are served (ARCHITECTURE.md "Counting contract"). The gateway calls with its own
service token; the caller's scope was already applied when the station was resolved.

With `patience_s`, a call still running at the deadline is not cancelled: it goes on for up
to `patience_s`, and `Gathered.late` completes the gathering with it. A province's figures
can take longer than the deadline (docs/performance.md, 3a); the dashboard then gets the rest
at once and the whole answer at its next poll (stats/api.py).
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
    # The whole gathering, once the calls late at the deadline are in (None: none was late).
    late: asyncio.Future[Gathered] | None = field(default=None, repr=False, compare=False)


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


async def gather(upstreams: Upstreams, signer: TokenSigner, ask: Ask, timeout_s: float,
                 patience_s: float | None = None) -> Gathered:
    body = {"station_path": ask.station_path, "from": ask.from_on, "to": ask.to_on, "group_by": list(ask.group_by)}
    if ask.metrics is not None:
        body["metrics"] = list(ask.metrics)
    headers = {"Authorization": f"Bearer {signer.service_token()}"}
    calls: list[tuple[str, str, dict]] = [(s, "/internal/stats", body) for s in ask.services if ask.stats]
    if ask.persons:
        calls += [(s, "/internal/persons", {**body, "exact_limit": ask.exact_limit})
                  for s in PERSONS_SOURCES if s in ask.services]

    patient = patience_s is not None and patience_s > timeout_s
    tasks = [asyncio.ensure_future(call(upstreams, service, path, payload, headers,
                                        patience_s if patient else timeout_s))
             for service, path, payload in calls]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    gathered = _assembled(calls, [t.result() if t in done else None for t in tasks])
    if pending:
        late = sorted({calls[i][0] for i, t in enumerate(tasks) if t in pending})
        log.warning("stats: %s late after %s s: answering without them%s", ", ".join(late), timeout_s,
                    " for now" if patient else "")
        if patient:
            gathered.late = asyncio.ensure_future(_complete(calls, tasks))
        else:
            for t in pending:
                t.cancel()
    return gathered


async def _complete(calls: list[tuple[str, str, dict]], tasks: list[asyncio.Future]) -> Gathered:
    return _assembled(calls, list(await asyncio.gather(*tasks)))


def _assembled(calls: list[tuple[str, str, dict]], answers: list[dict | None]) -> Gathered:
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
