"""Logins, account locks and refresh-token rotation with reuse detection."""

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
from gateway.identity.errors import AccountLocked, LoginFailed, NotAllowed, RefreshRejected
from gateway.identity.passwords import Passwords
from gateway.identity.repository import tokens as tokens_repo
from gateway.identity.repository import users as users_repo
from gateway.identity.schemas import TokenPair
from gateway.models import Station, User
from shared.auth import Principal, Role, TokenSigner

MAX_LOCK_S = 24 * 3600
# Security events name the user by id only: no username, password or token in logs.
log = logging.getLogger("haolin.gateway.auth")


def principal_of(user: User, station: Station) -> Principal:
    return Principal(user_id=str(user.id), role=Role(user.role), station_id=station.id, station_path=station.path,
                     name=user.display_name, generation=user.token_generation)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lock_seconds(settings: GatewaySettings, lock_count: int) -> int:
    """The n-th lock in a row (0-based) lasts login_lock_s * 2**n, at most a day."""
    return min(settings.login_lock_s * 2 ** min(lock_count, 32), MAX_LOCK_S)


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
                username: str, password: str, audit: Callable[[str, User], None] = _no_audit) -> TokenPair:
    """`audit(action, user)` logs what happened to a known account: login, login_failed,
    login_locked (a wrong password that locked it) or login_refused (locked or disabled)."""
    # Locked: concurrent guesses at one account are counted one after another.
    user = await users_repo.by_username(session, username.strip(), for_update=True)
    now = datetime.now(UTC)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit("login_refused", user)
        raise AccountLocked(math.ceil((user.locked_until - now).total_seconds()))
    ok = await passwords.verify(user.password_hash if user else None, password)
    if user is None:
        raise LoginFailed()
    if not ok:
        failures = user.failed_logins + 1
        if failures >= settings.login_max_failures:
            seconds = lock_seconds(settings, user.lock_count)
            until = now + timedelta(seconds=seconds)
            log.warning("account locked after failed logins", extra={"fields": {"user_id": user.id,
                                                                               "lock_s": seconds}})
            await users_repo.apply(session, user, {"failed_logins": 0, "lock_count": user.lock_count + 1,
                                                   "locked_until": until}, bump=False)
            audit("login_locked", user)
        else:
            await users_repo.apply(session, user, {"failed_logins": failures}, bump=False)
            audit("login_failed", user)
        raise LoginFailed()
    if user.disabled_at is not None:
        audit("login_refused", user)
        # Said only to someone who knows the password.
        raise NotAllowed("This account is disabled; ask an administrator.")
    values: dict = {"failed_logins": 0, "lock_count": 0, "locked_until": None, "last_login_at": now}
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = await passwords.hash(password)
    await users_repo.apply(session, user, values, bump=False)
    found = await users_repo.with_station(session, user.id)
    audit("login", user)
    return await issue(session, signer, settings, user, found[1])


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
