"""Logins, their throttle per (account, address), and refresh-token rotation with reuse detection."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import GatewaySettings
from gateway.identity.errors import LoginFailed, LoginThrottled, NotAllowed, RefreshRejected
from gateway.identity.passwords import Passwords
from gateway.identity.repository import addresses as addresses_repo
from gateway.identity.repository import throttle as throttle_repo
from gateway.identity.repository import tokens as tokens_repo
from gateway.identity.repository import users as users_repo
from gateway.identity.schemas import LoginAnswer, TokenPair
from gateway.models import Station, User
from shared.auth import TokenSigner
from shared.principals import Principal, Role

# Login attempts per client address are counted over this sliding window.
ADDRESS_WINDOW = timedelta(seconds=60)
# Failures older than this are forgotten: a new day starts with free attempts again.
FORGET_AFTER = timedelta(days=1)
# Security events name the user by id only: no username, password or token in logs.
log = logging.getLogger("haolin.gateway.auth")


def principal_of(user: User, station: Station) -> Principal:
    return Principal(user_id=str(user.id), role=Role(user.role), station_id=station.id, station_path=station.path,
                     name=user.display_name, generation=user.token_generation)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_key(username: str) -> str:
    """The throttle's name for an account, real or not: a digest, since people sometimes type their
    password into the username field."""
    return _digest("login:" + username.strip().lower())


async def count_address_attempt(session: AsyncSession, address: str, per_minute: int) -> int:
    """Count a login attempt from `address`: 0 when it may go on, else the seconds until the oldest
    of the last minute's `per_minute` attempts leaves the window (it is then not counted). Kept in
    the database, so the limit holds for the address whichever worker or replica it reaches."""
    now = await addresses_repo.lock(session, address)
    recent = [at for at in await addresses_repo.attempts(session, address) if at > now - ADDRESS_WINDOW]
    if len(recent) >= per_minute:
        return max(1, math.ceil((recent[0] + ADDRESS_WINDOW - now).total_seconds()))
    await addresses_repo.save(session, address, (recent + [now])[-per_minute:])
    await addresses_repo.forget_before(session, now - ADDRESS_WINDOW)
    return 0


def delay_s(settings: GatewaySettings, failures: int) -> float:
    """The wait after the n-th failure from one address: none for the first `login_free_failures`, then
    `login_delay_s`, doubling with each further failure, at most `login_max_delay_s`."""
    beyond = failures - settings.login_free_failures
    if beyond <= 0:
        return 0.0
    return min(settings.login_delay_s * 2 ** min(beyond - 1, 32), settings.login_max_delay_s)


async def issue(session: AsyncSession, signer: TokenSigner, settings: GatewaySettings, user: User,
                station: Station, family_id: str | None = None) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    await tokens_repo.insert(session, token_hash=_digest(refresh), family_id=family_id or str(uuid.uuid4()),
                             user_id=user.id, expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_ttl_s))
    return TokenPair(access_token=signer.access_token(principal_of(user, station)), expires_in=signer.access_ttl_s,
                     refresh_token=refresh)


def _no_audit(action: str, user: User) -> None:
    return None


async def login(session: AsyncSession, signer: TokenSigner, settings: GatewaySettings, passwords: Passwords,
                username: str, password: str, address: str,
                audit: Callable[[str, User], None] = _no_audit) -> LoginAnswer:
    """`audit(action, user)` logs what happened to a known account: login, login_failed or
    login_refused (throttled, or disabled).

    Failures slow down the account name from the client's address only, so a stranger's guesses
    never lock its owner out; unknown names are throttled the same way, and a throttled or failed
    attempt answers the same whether the account exists or not (the password is hashed for an
    unknown name too)."""
    account = account_key(username)
    await throttle_repo.lock(session, account, address)
    now = datetime.now(UTC)
    user = await users_repo.by_username(session, username.strip())
    throttle = await throttle_repo.get(session, account, address)
    if throttle is not None and throttle.last_failed_at < now - FORGET_AFTER:
        throttle = None
    if throttle is not None and throttle.retry_at > now:
        if user is not None:
            audit("login_refused", user)
        raise LoginThrottled(math.ceil((throttle.retry_at - now).total_seconds()))
    ok = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        failures = (throttle.failures if throttle else 0) + 1
        await throttle_repo.record_failure(session, account, address, failures, now,
                                           now + timedelta(seconds=delay_s(settings, failures)))
        await throttle_repo.forget_before(session, now - FORGET_AFTER)
        if user is not None:
            await users_repo.count_failed_login(session, user.id)
            audit("login_failed", user)
            if failures == settings.login_free_failures + 1:
                log.warning("failed logins slowed down for one address", extra={"fields": {"user_id": user.id}})
        raise LoginFailed()
    if user.disabled_at is not None:
        audit("login_refused", user)
        # Said only to someone who knows the password.
        raise NotAllowed("This account is disabled; ask an administrator.")
    await throttle_repo.clear(session, account, address)
    told, previous = user.failed_logins, user.last_login_at
    values: dict = {"failed_logins": 0, "last_login_at": now}
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = await passwords.hash(password)
    await users_repo.apply(session, user, values, bump=False)
    found = await users_repo.with_station(session, user.id)
    audit("login", user)
    pair = await issue(session, signer, settings, user, found[1])
    return LoginAnswer(**pair.model_dump(), failed_logins=told, last_login_at=previous)


async def lift_throttle(session: AsyncSession, user: User) -> None:
    """An administrator's enable or password reset: the account's failed logins, from every address, are forgotten."""
    await throttle_repo.clear(session, account_key(user.username))


async def refresh(session: AsyncSession, signer: TokenSigner, settings: GatewaySettings, token: str) -> TokenPair:
    row = await tokens_repo.by_hash(session, _digest(token))
    if row is None:
        raise RefreshRejected()
    if row.revoked_at is not None:
        # A rotated-out token came back: either the client or a thief holds a copy. End the
        # whole login so the thief's copy dies too; the user logs in again.
        await tokens_repo.revoke_family(session, row.family_id)
        log.warning("refresh token reused: login revoked", extra={"fields": {"user_id": row.user_id}})
        raise RefreshRejected("This refresh token was already used; every session of this login is revoked. "
                              "Log in again.")
    if row.expires_at <= datetime.now(UTC):
        raise RefreshRejected("The refresh token has expired; log in again.")
    found = await users_repo.with_station(session, row.user_id)
    if found is None or found[0].disabled_at is not None or found[1].deleted_at is not None:
        await tokens_repo.revoke_family(session, row.family_id)
        raise RefreshRejected("This account is disabled; ask an administrator.")
    await tokens_repo.revoke(session, row.id)
    return await issue(session, signer, settings, found[0], found[1], family_id=row.family_id)


async def logout(session: AsyncSession, token: str) -> None:
    row = await tokens_repo.by_hash(session, _digest(token))
    if row is not None:
        await tokens_repo.revoke_family(session, row.family_id)
