"""The gateway's side of sync: a service's synced tables, its pull stream opened, its part of a push.

A service that fails is a 503 problem naming it (`SyncUnavailable`): a tablet retries the whole
sync, which converges. A push's refusal by the service (409, 403, 422) is its own problem, given back."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from shared.contracts.calls import FAILURES, Service
from shared.contracts.sync import ndjson
from shared.contracts.sync.schemas import (ADDRESS_HEADER, DEVICE_TOKEN_HEADER, PullQuery, PushProvides,
                                           SyncSchema)
from shared.errors import AppError

log = logging.getLogger("haolin.gateway.sync")
PATH = "/internal/sync"


class SyncUnavailable(AppError):
    """The tablet may send the same pull or push again (a push converges, docs/sync.md). Like every
    503 here it says when (Retry-After), but spread over 2 to 10 s: a sync fails this way mostly when
    a service is overloaded, as in a province's morning storm, and thousands of tablets coming back
    in the same second would overload it again."""

    status_code, title, type = 503, "Sync unavailable", "sync-unavailable"

    def __init__(self, detail: str | None = None, **extra) -> None:
        super().__init__(detail, headers={"Retry-After": str(random.randint(2, 10))}, **extra)


async def schema(service: Service, timeout_s: float) -> SyncSchema:
    """The tables the service syncs, and whether it can hold a push's part prepared."""
    try:
        async with asyncio.timeout(timeout_s):
            r = await service.http.get(f"{PATH}/schema", headers=service.headers())
        r.raise_for_status()
        return SyncSchema.model_validate_json(r.content)
    except Exception:
        raise SyncUnavailable(f"The {service.name} service did not answer; try again later.",
                              service=service.name) from None


@dataclass
class Pull:
    """One service's pull stream, opened: its cursor read, its lines to come in batches."""

    cursor: str
    batches: AsyncIterator[list[bytes]]
    response: httpx.Response

    async def aclose(self) -> None:
        await self.response.aclose()


async def pull(service: Service, query: PullQuery) -> Pull:
    """The stream opened and its first line (the cursor) read, before anything goes to the tablet."""
    try:
        response = await service.http.send(service.http.build_request(
            "POST", f"{PATH}/pull", json=query.model_dump(mode="json"), headers=service.headers()), stream=True)
        try:
            response.raise_for_status()
            batches = ndjson.line_batches(response.aiter_bytes())
            head = await anext(batches)
            cursor = ndjson.read_cursor(head[0])
        except BaseException:
            await response.aclose()
            raise
    except (httpx.HTTPError, OSError, StopAsyncIteration, ValueError, KeyError) as exc:
        log.warning("sync pull: %s failed: %s", service.name, type(exc).__name__)
        raise SyncUnavailable(f"The {service.name} service did not answer; nothing was pulled. Try again.",
                              service=service.name) from None
    return Pull(cursor=cursor, batches=ndjson.prepend(head[1:], batches), response=response)


def device_headers(device_token: str, address: str | None) -> dict[str, str]:
    """The device beside the gateway's service token: its short-lived token, which the service's
    checks run as, and its address as the gateway saw it, for the service's audit."""
    return {DEVICE_TOKEN_HEADER: device_token, ADDRESS_HEADER: address or "unknown"}


@dataclass
class PushAnswer:
    """A service's answer to its part of a push: done (204), its dry run passed or its part is held
    prepared, with what it `provides`, or its own `problem` (status and body)."""

    provides: dict[str, list[dict]]
    problem: tuple[int, Any] | None = None


async def push(service: Service, body: dict[str, Any], device_token: str, address: str | None,
               timeout_s: float) -> PushAnswer:
    """`body`: shared.contracts.sync.schemas.PushBody as JSON, validated by the service (its problem
    names the records)."""
    phase = "" if body.get("check_only") else " (others may have)"
    refused = SyncUnavailable(f"The {service.name} service did not take its part of the push{phase}: push again.",
                              service=service.name)
    try:
        async with asyncio.timeout(timeout_s):
            answer = await service.http.post(f"{PATH}/push", json=body,
                                             headers=service.headers(device_headers(device_token, address)),
                                             timeout=timeout_s)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        log.warning("sync push: %s failed: %s", service.name, type(exc).__name__)
        raise refused from None
    if answer.status_code >= 500:
        raise refused
    if answer.status_code == 200:
        try:
            return PushAnswer(provides=PushProvides.model_validate_json(answer.content).provides)
        except FAILURES:
            raise SyncUnavailable(f"The {service.name} service's answer to its part was not understood: push again.",
                                  service=service.name) from None
    if answer.status_code == 204:
        return PushAnswer(provides={})
    return PushAnswer(provides={}, problem=(answer.status_code, answer.json()))


async def finish(service: Service, name: str, commit: bool, timeout_s: float) -> bool:
    """Commit or roll back a push's part the service holds prepared (shared.prepared). False when it
    could not be done: no answer, or the service has no such part (ended, or swept as abandoned)."""
    try:
        async with asyncio.timeout(timeout_s):
            answer = await service.http.post(f"{PATH}/prepared", json={"name": name, "commit": commit},
                                              headers=service.headers(), timeout=timeout_s)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        log.warning("sync push: %s did not answer the %s of its part: %s", service.name,
                    "commit" if commit else "rollback", type(exc).__name__)
        return False
    return answer.status_code == 204
