"""The attendee lookup's client, in every service: asking the service that owns a record about it,
through the gateway's public API, as the caller.

A record may name a record of another service: a case its project, an activity its volunteers,
an hours record its activity, a volunteer their login. Services never call each other and never
read each other's tables, and only the gateway signs tokens; so the service that stores such a
reference asks the owner through the gateway with the caller's own bearer token, and the owner
applies the caller's scope exactly as for any read of theirs. What it does not return does not
exist for the caller: an unknown id and one out of the caller's scope read the same.

A tablet's push reaches a service with the gateway's service token, which owners rightly refuse
(their answers are for a user's scope). The gateway also sends a short-lived access token of the
pushing device (shared.contracts.sync.schemas.DEVICE_TOKEN_HEADER), and a push's lookups run as the device.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from shared.principals import oauth2_scheme
from shared.contracts.lookup.schemas import CHUNK
from shared.errors import BadGateway, Forbidden, GatewayTimeout, Unauthorized
from shared.observability import request_id_var

log = logging.getLogger("haolin.lookup")


class Lookup:
    """This process's client to the gateway for lookups, built in the lifespan (one pool)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def find(self, token: str, path: str, ids: list[str], *, owner: str, what: str,
                   extra: Mapping[str, Any] | None = None) -> dict[str, dict]:
        """The items among `ids` the owner shows the caller, by id: `POST path {"ids": [...], **extra}`
        answering `{"items": [{"id": ...}, ...]}`. BadGateway/GatewayTimeout when unsure."""
        found: dict[str, dict] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), CHUNK):
            body = {"ids": unique[start:start + CHUNK], **(extra or {})}
            r = await self._send("POST", path, token, owner, what, json=body)
            if r.status_code != 200:
                self._refused(r, owner, what)
            try:
                for item in r.json()["items"]:
                    found[str(item["id"])] = item
            except (ValueError, KeyError, TypeError):
                raise BadGateway(f"The {owner} service's answer was not understood.", service=owner) from None
        return found

    async def fetch(self, token: str, path: str, *, owner: str, what: str) -> dict | None:
        """`GET path` as the caller: the record, or None when the owner answers 404 (unknown or
        outside the caller's scope, which read the same)."""
        r = await self._send("GET", path, token, owner, what)
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            self._refused(r, owner, what)
        try:
            return r.json()
        except ValueError:
            raise BadGateway(f"The {owner} service's answer was not understood.", service=owner) from None

    async def _send(self, method: str, path: str, token: str, owner: str, what: str, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id_var.get()}
        try:
            return await self.http.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException:
            log.warning("lookup of %s timed out", what)
            raise GatewayTimeout(f"The {owner} service did not answer in time about the {what}; nothing was "
                                 "recorded.", service=owner) from None
        except httpx.HTTPError as exc:
            log.warning("lookup of %s failed: %s", what, type(exc).__name__)
            raise BadGateway(f"The {owner} service could not be reached about the {what}; nothing was recorded.",
                             service=owner) from None

    @staticmethod
    def _refused(r: httpx.Response, owner: str, what: str):
        if r.status_code == 401:
            raise Unauthorized(f"The access token expired during the check of the {what}; refresh it and retry.")
        if r.status_code == 403:
            raise Forbidden(f"This role cannot see {what}, so it cannot refer to them.")
        log.warning("lookup of %s answered %s", what, r.status_code)
        raise BadGateway(f"The {owner} service answered {r.status_code} about the {what}; nothing was recorded.",
                         service=owner)

    async def aclose(self) -> None:
        await self.http.aclose()


def build(settings, transport: httpx.AsyncBaseTransport | None = None) -> Lookup:
    """From a ResourceSettings (gateway_url, lookup_timeout_s); `transport` replaces the network (tests)."""
    return Lookup(httpx.AsyncClient(base_url=settings.gateway_url, transport=transport,
                                    timeout=settings.lookup_timeout_s, trust_env=False))


class Asker:
    """The lookup as one caller."""

    def __init__(self, lookup: Lookup, token: Callable[[], str]) -> None:
        self.lookup = lookup
        self.token = token

    async def find(self, path: str, ids: list[str], *, owner: str, what: str,
                   extra: Mapping[str, Any] | None = None) -> dict[str, dict]:
        if not ids:
            return {}
        return await self.lookup.find(self.token(), path, ids, owner=owner, what=what, extra=extra)

    async def fetch(self, path: str, *, owner: str, what: str) -> dict | None:
        return await self.lookup.fetch(self.token(), path, owner=owner, what=what)


async def caller_asker(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Asker:
    return Asker(request.app.state.lookup, lambda: token or "")


# A REST request's lookups: as the caller, with their own bearer token.
AskerDep = Annotated[Asker, Depends(caller_asker)]


class PushAsker(Asker):
    """A tablet push's lookups: as the pushing device, each id asked once per push, and aware of
    the push's own records that another service owns.

    `provisional`: lookup path -> table whose records another service accepted (in its dry run, or
    written and held prepared) and described (`SyncTable.provides`): found as described, without
    asking. `same_push`: lookup path -> table whose pushed ids count as found: the gateway commits no
    service's part before every service has accepted its own (shared.prepared; or their dry runs
    passed), so a record of the push is in the device's scope by the time anything refers to it
    (and its owner may come later in the push's order). `prefetch`:
    path -> the ids the push names there, asked together the first time the path is asked.
    """

    def __init__(self, lookup: Lookup, ctx, *, provisional: Mapping[str, str] | None = None,
                 same_push: Mapping[str, str] | None = None,
                 prefetch: Mapping[str, Callable[[], Awaitable[list[str]]]] | None = None) -> None:
        super().__init__(lookup, ctx.device_token)
        self.prefetch = dict(prefetch or {})
        self.found: dict[str, dict[str, dict]] = {}
        self.asked: dict[str, set[str]] = {}
        for path, table in (provisional or {}).items():
            for item in ctx.provisional.get(table, []):
                self._known(path, None)[item["id"]] = item
        for path, table in (same_push or {}).items():
            for record_id in ctx.pushed.get(table, []):
                self._known(path, None).setdefault(record_id, {"id": record_id})

    def _known(self, path: str, extra: Mapping[str, Any] | None) -> dict[str, dict]:
        return self.found.setdefault(_key(path, extra), {})

    async def find(self, path: str, ids: list[str], *, owner: str, what: str,
                   extra: Mapping[str, Any] | None = None) -> dict[str, dict]:
        key = _key(path, extra)
        known, asked = self._known(path, extra), self.asked.setdefault(key, set())
        if any(i not in known and i not in asked for i in ids):
            more = await self.prefetch.pop(path)() if path in self.prefetch else []
            batch = [i for i in dict.fromkeys([*ids, *more]) if i not in known and i not in asked]
            known.update(await super().find(path, batch, owner=owner, what=what, extra=extra))
            asked.update(batch)
        return {i: known[i] for i in ids if i in known}


def _key(path: str, extra: Mapping[str, Any] | None) -> str:
    return path if not extra else path + json.dumps(extra, sort_keys=True)
