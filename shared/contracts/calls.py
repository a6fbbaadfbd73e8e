"""What every contract client shares: one service as the gateway calls it, the service-token
header, and the one mapping of a failed call to "left out" (the caller names the service in
`degraded`, or answers a problem) instead of an httpx traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

import httpx
import orjson
from pydantic import ValidationError

T = TypeVar("T")

# A call that failed in any of these ways left its service out: down, late, refusing or answering
# something that is not the contract's answer.
FAILURES = (httpx.HTTPError, TimeoutError, OSError, ValueError, KeyError, ValidationError)


class ServiceTokens(Protocol):
    def service_token(self) -> str: ...


class Clients(Protocol):
    """The gateway's pooled clients by service name (gateway.upstream.Upstreams)."""

    def client(self, name: str) -> httpx.AsyncClient: ...


def service_headers(tokens: ServiceTokens) -> dict[str, str]:
    """The gateway's service token, which every internal route takes (shared.principals.ServicePrincipalDep)."""
    return {"Authorization": f"Bearer {tokens.service_token()}"}


@dataclass(frozen=True)
class Service:
    """One service as a contract client calls it: its name, the gateway's pooled client to it and
    the service-token header of this round of calls (made once: each token is signed anew, and
    a service verifies each new token's signature once)."""

    name: str
    http: httpx.AsyncClient
    auth: Mapping[str, str]

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.auth, **(extra or {})}


@dataclass(frozen=True)
class Counted:
    """A figure answer: its rows or groups as plain dicts, and the moment they are as of (None from a
    service that does not say: counted when it answered)."""

    items: list[dict]
    as_of: datetime | None


async def posted_figures(service: Service, path: str, body: dict, key: str) -> Counted:
    """POST a figure question to one of the service's internal routes: the answer's `key` and its `as_of`."""
    r = await service.http.post(path, json=body, headers=service.headers())
    r.raise_for_status()
    # orjson, not httpx's json module: a province's person sets are about a megabyte of base64, and
    # the standard parser took a twelfth of the gateway's CPU per summary (docs/performance.md).
    answer = orjson.loads(r.content)
    as_of = answer.get("as_of")
    return Counted(answer[key], datetime.fromisoformat(as_of) if as_of else None)


def services(upstreams: Clients, tokens: ServiceTokens, names: Iterable[str]) -> dict[str, Service]:
    """The services `names`, all with one service token."""
    auth = service_headers(tokens)
    return {name: Service(name, upstreams.client(name), auth) for name in names}


def service(upstreams: Clients, tokens: ServiceTokens, name: str) -> Service:
    return services(upstreams, tokens, (name,))[name]


async def or_none(call: Awaitable[T], service: str, what: str, log: logging.Logger,
                  timeout_s: float | None = None) -> T | None:
    """The call's answer, or None when it failed or was late (within `timeout_s`): the service is then
    left out by the caller. Logged by the exception's type only: an upstream message may echo the query."""
    try:
        if timeout_s is None:
            return await call
        async with asyncio.timeout(timeout_s):
            return await call
    except FAILURES as exc:
        log.warning("%s: %s failed: %s", what, service, type(exc).__name__)
        return None
