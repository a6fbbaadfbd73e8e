"""Asking every service the counting contract at once, within the stats deadline.

A service that fails or is late is left out and named: its figures become missing, the
rest are served (ARCHITECTURE.md "Counting contract"). The gateway calls with its own
service token (shared.contracts.stats and .persons); the caller's scope was already applied
when the station was resolved.

With `patience_s`, a call still running at the deadline is not cancelled: it goes on for up
to `patience_s`, and `Gathered.late` completes the gathering with it. A province's figures
can take longer than the deadline (docs/performance.md, 3a); the dashboard then gets the rest
at once and the whole answer at its next poll (stats/api.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from shared.auth import TokenSigner
from shared.contracts.activity.client import activity
from shared.contracts.calls import Counted, Service, services
from shared.contracts.persons.client import persons
from shared.contracts.persons.schemas import PersonsQuery
from shared.contracts.stats.client import stats
from shared.contracts.stats.schemas import StatsQuery
from shared.stats import ACTIVITY_SOURCES, PERSONS_SOURCES

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
    activity: bool = False  # the sets of active stations and workers, from those of `services` that keep them
    own: bool = False  # the gateway's own figures (gateway/stats/system.py)


@dataclass(frozen=True)
class Call:
    """One question to one service: its counting rows or its person sets."""

    service: str
    kind: Literal["stats", "persons", "activity"]
    query: StatsQuery

    async def ask(self, service: Service, timeout_s: float) -> Counted | None:
        if self.kind == "stats":
            return await stats(service, self.query, timeout_s)
        if self.kind == "activity":
            return await activity(service, self.query, timeout_s)
        return await persons(service, self.query, timeout_s)


@dataclass
class Gathered:
    rows: dict[str, list[dict]] = field(default_factory=dict)  # service -> stats rows
    persons: dict[str, list[dict]] = field(default_factory=dict)  # service -> person groups
    activity: dict[str, list[dict]] = field(default_factory=dict)  # service -> active stations and workers
    degraded: set[str] = field(default_factory=set)
    # The oldest moment the services' figures are as of (a service reading a lagging standby,
    # shared/standby.py); None when none said.
    as_of: datetime | None = None
    # The whole gathering, once the calls late at the deadline are in (None: none was late).
    late: asyncio.Future[Gathered] | None = field(default=None, repr=False, compare=False)


# The gateway's own rows for a question (gateway/stats/system.py), read from its own tables.
Own = Callable[[StatsQuery], Awaitable[list[dict]]]
GATEWAY = "gateway"


async def gather(upstreams: Upstreams, signer: TokenSigner, ask: Ask, timeout_s: float,
                 patience_s: float | None = None, own: Own | None = None) -> Gathered:
    try:
        query = StatsQuery(station_path=ask.station_path, from_on=ask.from_on, to_on=ask.to_on,
                           group_by=list(ask.group_by), metrics=None if ask.metrics is None else list(ask.metrics))
        calls: list[Call] = [Call(s, "stats", query) for s in ask.services if ask.stats and s != GATEWAY]
        if ask.persons:
            sets = PersonsQuery(**query.model_dump())
            calls += [Call(s, "persons", sets) for s in PERSONS_SOURCES if s in ask.services]
        if ask.activity:
            calls += [Call(s, "activity", query) for s in ACTIVITY_SOURCES if s in ask.services]
    except ValidationError:
        # A question no service would take (each would refuse it): every service is left out.
        log.warning("stats: the question is not the contract's; answering without the services")
        return Gathered(degraded=set(ask.services) - {GATEWAY})
    asked = _asked(upstreams, signer, calls, timeout_s, patience_s)
    if not ask.own or own is None:
        return await asked
    # The gateway's own tables are read while the services count; kept in the late gathering too.
    gathered, rows = await asyncio.gather(asked, own(query))
    gathered.rows[GATEWAY] = rows
    if gathered.late is not None:
        gathered.late = asyncio.ensure_future(_with_own(gathered.late, rows))
    return gathered


async def _with_own(late: asyncio.Future[Gathered], rows: list[dict]) -> Gathered:
    whole = await late
    whole.rows[GATEWAY] = rows
    return whole


async def _asked(upstreams: Upstreams, signer: TokenSigner, calls: list[Call], timeout_s: float,
                 patience_s: float | None) -> Gathered:
    if not calls:
        return Gathered()
    patient = patience_s is not None and patience_s > timeout_s
    asked = services(upstreams, signer, {c.service: None for c in calls})
    tasks = [asyncio.ensure_future(c.ask(asked[c.service], patience_s if patient else timeout_s)) for c in calls]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    gathered = _assembled(calls, [t.result() if t in done else None for t in tasks])
    if pending:
        late = sorted({calls[i].service for i, t in enumerate(tasks) if t in pending})
        log.warning("stats: %s late after %s s: answering without them%s", ", ".join(late), timeout_s,
                    " for now" if patient else "")
        if patient:
            gathered.late = asyncio.ensure_future(_complete(calls, tasks))
        else:
            for t in pending:
                t.cancel()
    return gathered


async def _complete(calls: list[Call], tasks: list[asyncio.Future]) -> Gathered:
    return _assembled(calls, list(await asyncio.gather(*tasks)))


def oldest(*moments: datetime | None) -> datetime | None:
    """The earliest of the moments given (None ones left out): an answer is as of its stalest part."""
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _assembled(calls: list[Call], answers: list[Counted | None]) -> Gathered:
    gathered = Gathered()
    for c, answer in zip(calls, answers, strict=True):
        if answer is None:
            gathered.degraded.add(c.service)
            continue
        gathered.as_of = oldest(gathered.as_of, answer.as_of)
        if c.kind == "stats":
            gathered.rows[c.service] = answer.items
        elif c.kind == "activity":
            gathered.activity[c.service] = answer.items
        else:
            gathered.persons[c.service] = answer.items
    # A service that answered one call but not the other is out as a whole: half its figures
    # next to the other half of another moment would not add up.
    for service in gathered.degraded:
        gathered.rows.pop(service, None)
        gathered.persons.pop(service, None)
        gathered.activity.pop(service, None)
    return gathered
