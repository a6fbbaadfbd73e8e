"""Request dependencies of the gateway: sessions, the acting user, and scoped lookups that
double as validators (an id outside the caller's subtree answers 404, like a missing one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import GatewaySettings
from gateway.identity.errors import AddressRateLimited, StationNotFound, UserNotFound
from gateway.identity.passwords import Passwords, from_settings
from gateway.identity.service import auth as auth_service
from gateway.identity.service import stations as stations_service
from gateway.identity.service import users as users_service
from gateway.identity.service.rules import MANAGERS, require_role
from gateway.identity.service.users import UserAt
from gateway.models import Station
from shared.auth import TokenSigner
from shared.principals import Principal, PrincipalDep
from shared.db import read_session, write_session
from shared.proxies import request_client
from shared.records import found_or
from shared.schemas import RowId

WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]



def settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def signer(request: Request) -> TokenSigner:
    return request.app.state.signer


def passwords(request: Request) -> Passwords:
    return from_settings(request.app.state.settings)


SettingsDep = Annotated[GatewaySettings, Depends(settings)]
SignerDep = Annotated[TokenSigner, Depends(signer)]
PasswordsDep = Annotated[Passwords, Depends(passwords)]


async def current_actor(principal: PrincipalDep, request: Request) -> Principal:
    """The caller as the database knows them now, not as their token said: a disabled account
    or a changed role or station takes effect at once, not when the token expires. The gateway's
    AccountGate (identity/live.py) has already checked every request's token; this is its answer."""
    actor = request.scope.get("state", {}).get("actor")
    if actor is None:
        actor = await request.app.state.accounts.actor(principal)
    return actor


ActorDep = Annotated[Principal, Depends(current_actor)]


def manager(actor: ActorDep) -> Principal:
    require_role(actor, MANAGERS, "manage users")
    return actor


ManagerDep = Annotated[Principal, Depends(manager)]


async def readable_station(station_id: Annotated[RowId, Path()], actor: ActorDep, session: ReadSessionDep) -> Station:
    return found_or(await stations_service.readable(session, actor, station_id), StationNotFound)


async def writable_station(station_id: Annotated[RowId, Path()], actor: ActorDep, session: WriteSessionDep) -> Station:
    return found_or(await stations_service.locked_in_scope(session, actor, station_id), StationNotFound)


StationDep = Annotated[Station, Depends(readable_station)]
WritableStationDep = Annotated[Station, Depends(writable_station)]


async def readable_user(user_id: Annotated[RowId, Path()], actor: ManagerDep, session: ReadSessionDep) -> UserAt:
    return found_or(await users_service.in_scope(session, actor, user_id), UserNotFound)


async def writable_user(user_id: Annotated[RowId, Path()], actor: ManagerDep, session: WriteSessionDep) -> UserAt:
    return found_or(await users_service.in_scope(session, actor, user_id, for_update=True), UserNotFound)


UserDep = Annotated[UserAt, Depends(readable_user)]
WritableUserDep = Annotated[UserAt, Depends(writable_user)]


async def login_throttle(request: Request) -> str:
    """Per client address, login attempts per minute (settings.login_per_address_per_minute), counted in
    the database for every worker and replica alike; answers the address, as TRUSTED_PROXIES lets the
    gateway believe it (shared.proxies.request_client).

    Its own short transaction, committed before the login's: the attempt counts whatever the login
    answers, and the address's lock is not held while the password is hashed."""
    address = request_client(request.scope) or "unknown"
    state = request.app.state
    async with state.db.write_sessions() as session:
        wait = await auth_service.count_address_attempt(session, address, state.settings.login_per_address_per_minute)
        await session.commit()
    if wait:
        raise AddressRateLimited(wait)
    return address


def station_change_notifier(request: Request, background: BackgroundTasks) -> Callable[[], None]:
    """Call after a station write: once the response is out (so after the commit), the pusher
    sends the change to the services; the request never waits for them."""

    def changed() -> None:
        pusher = getattr(request.app.state, "pusher", None)
        if pusher is not None:
            background.add_task(pusher.notify)

    return changed


StationsChangedDep = Annotated[Callable[[], None], Depends(station_change_notifier)]
