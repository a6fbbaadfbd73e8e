"""Every request with a user's access token, checked against the live account.

A token's claims (role, station, station path) are what the account was when it was issued,
up to `GATEWAY_ACCESS_TTL_S` ago. Every change that must end them bumps the account's token
generation (gateway.models.User.token_generation): disabling, a new role or station, a new
password, a move of the user's station or of a station above it. `AccountGate` refuses, with
401, any access token whose account is gone, disabled, or of another generation, before the
request reaches a route: the proxied resource routes (whose services trust the token's claims),
the gateway's own routes, and any route added later alike. Services are reached only through
the gateway, so a stale token goes no further.

The account is read from a per-process cache that a trigger on gateway.user keeps current
through LISTEN/NOTIFY (shared/notify.py); while the listener is down every request reads the
database, one prepared SELECT (repository/hot.py).
"""

from __future__ import annotations

import logging

from asyncpg import Pool

from gateway.identity.repository import hot
from gateway.identity.service.devices import PREFIX as DEVICE_CREDENTIAL
from shared.auth import TokenVerifier
from shared.principals import Principal, Role
from shared.scope import path_under
from shared.db import database_unavailable, unavailable_problem
from shared.errors import AppError, Unauthorized, send_problem
from shared.notify import Listener, NotifiedCache

log = logging.getLogger("haolin.gateway.live")

# migrations/gateway/versions/20261204_token_generation.py: the trigger's channel; payload the user id.
ACCOUNT_CHANNEL = "haolin_account"
# migrations/gateway/versions/20261206_station_notify.py: payload the station id.
STATION_CHANNEL = "haolin_station"
ENDED = "This access token no longer matches the account (it was changed, disabled or moved); log in again."


class LiveAccounts:
    def __init__(self, pool: Pool, listener: Listener) -> None:
        self._pool = pool
        self._cache: NotifiedCache[int, object] = NotifiedCache(listener, ACCOUNT_CHANNEL, self._load, int)

    async def _load(self, user_id: int):
        return await hot.actor(self._pool, user_id)

    async def actor(self, principal: Principal) -> Principal:
        """The caller as the database knows them now; Unauthorized when the token's account is
        gone or disabled, or the token is of an earlier generation."""
        try:
            user_id = int(principal.user_id)
        except ValueError:  # no account has this id ("device:7", a service)
            raise Unauthorized(ENDED) from None
        found = await self._cache.get(user_id)
        if found is None or not found["active"] or found["token_generation"] != principal.generation:
            raise Unauthorized(ENDED)
        return Principal(user_id=str(user_id), role=Role(found["role"]), station_id=found["station_id"],
                         station_path=found["path"], name=found["display_name"],
                         generation=found["token_generation"])


class LiveStations:
    """Stations by id as the database has them now, for the scope check of every dashboard poll
    (gateway.stats.api.station_in_scope). Kept in the process by the same notified cache as the
    accounts: a move, rename or removal is dropped from every process as it commits. Before, the
    check was a SELECT per poll, about a fifth of the gateway's CPU per 304 (docs/performance.md)."""

    def __init__(self, pool: Pool, listener: Listener) -> None:
        self._pool = pool
        self._cache: NotifiedCache[int, object] = NotifiedCache(listener, STATION_CHANNEL, self._load, int)

    async def _load(self, station_id: int):
        return await hot.station(self._pool, station_id)

    async def in_scope(self, station_id: int, scope_path: str):
        """The live station inside the subtree of `scope_path`, read only (a detached Station, shared
        by every request of this process: never changed, never added to a session); None otherwise."""
        station = await self._cache.get(station_id)
        if station is None or station.deleted_at is not None or not path_under(station.path, scope_path):
            return None
        return station


def _bearer(headers) -> str | None:
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class AccountGate:
    """Plain ASGI middleware: a request with a valid user access token goes on only if the token
    still matches its live account, with that account as `request.state.actor`. Anything else
    (no token, a tablet's credential, a token that does not verify) goes on unchanged: the route
    it reaches decides, as without the gate."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = _bearer(scope["headers"])
        if token is None or token.startswith(DEVICE_CREDENTIAL):
            return await self.app(scope, receive, send)
        state = scope["app"].state
        verifier: TokenVerifier = state.verifier
        try:
            principal = verifier.verify(token)
        except Unauthorized:
            return await self.app(scope, receive, send)
        if principal.device_id is not None:
            # A tablet's token names no account: the gateway mints one, for minutes, when the tablet's own
            # credential pushes, so that a service checks the people the push names as the device
            # (shared.contracts.lookup); the credential was checked as the push came in.
            return await self.app(scope, receive, send)
        try:
            actor = await state.accounts.actor(principal)
        except AppError as exc:
            return await send_problem(scope, receive, send, exc.to_problem(scope["path"]), exc.headers)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            return await send_problem(scope, receive, send, unavailable_problem(scope["path"]), {"Retry-After": "2"})
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)

