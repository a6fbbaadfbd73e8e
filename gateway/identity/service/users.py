"""Users: creation and management within a manager's scope, and one's own account."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.errors import DuplicateName, NotAllowed
from gateway.identity.passwords import Passwords, check_policy
from gateway.identity.repository import stations as stations_repo
from gateway.identity.repository import tokens as tokens_repo
from gateway.identity.repository import users as repo
from gateway.identity.schemas import PasswordChange, UserCreate, UserUpdate
from gateway.identity.service.auth import lift_throttle
from gateway.identity.service.rules import MANAGERS, require_may_assign, require_role
from gateway.models import Station, User
from shared.principals import Principal
from shared.errors import Conflict, InvalidInput
from shared.etag import check_version
from shared.pagination import PageParams


class UserAt(NamedTuple):
    user: User
    station: Station


def password_context(display_name: str, station: Station) -> tuple[str, ...]:
    """Words a guesser of this account's password would try first, besides its username."""
    return display_name, station.name, station.code or ""


def _is_self(actor: Principal, user: User) -> bool:
    return actor.user_id == str(user.id)


async def _station_for(session: AsyncSession, actor: Principal, station_id: int) -> Station:
    # Shared row lock: a concurrent delete of the station waits for this user to be stored.
    station = await stations_repo.get_live(session, station_id, for_share=True)
    if station is None or not actor.in_scope(station.path):
        raise InvalidInput.field("station_id", "No such station in your scope.", "unknown_station")
    return station


def _duplicate_username() -> DuplicateName:
    return DuplicateName.on("username", "This username is taken (usernames ignore case).")


async def create(session: AsyncSession, actor: Principal, body: UserCreate, passwords: Passwords) -> UserAt:
    require_role(actor, MANAGERS, "create users")
    station = await _station_for(session, actor, body.station_id)
    require_may_assign(actor, body.role, station.path)
    await check_policy(body.password, body.username, context=password_context(body.display_name, station))
    if await repo.username_taken(session, body.username):
        raise _duplicate_username()
    password_hash = await passwords.hash(body.password)
    try:
        user = await repo.insert(session, username=body.username, display_name=body.display_name,
                                 phone=body.phone, role=body.role, station_id=station.id,
                                 password_hash=password_hash, created_by=actor.user_id, updated_by=actor.user_id)
    except IntegrityError:
        # Lost a race with another creation of the same username.
        raise _duplicate_username() from None
    return UserAt(user, station)


async def in_scope(session: AsyncSession, actor: Principal, user_id: int, *, for_update: bool = False) -> UserAt | None:
    found = await repo.get_in_scope(session, user_id, actor.station_path, for_update=for_update)
    return UserAt(*found) if found else None


async def list_users(session: AsyncSession, actor: Principal, params: PageParams, role: str | None,
                     station_id: int | None) -> Seq[User]:
    return await repo.list_page(session, actor.station_path, params, role=role, station_id=station_id)


async def update(session: AsyncSession, actor: Principal, target: UserAt, body: UserUpdate,
                 expected_version: int) -> UserAt:
    user, station = target
    require_may_assign(actor, user.role, station.path)
    check_version(expected_version, user.version)
    changes = {k: v for k, v in body.model_dump(include=body.model_fields_set).items() if getattr(user, k) != v}
    for field in ("display_name", "role", "station_id"):
        if field in changes and changes[field] is None:
            raise InvalidInput.field(field, "This field cannot be empty.", "missing")
    if ("role" in changes or "station_id" in changes) and _is_self(actor, user):
        raise Conflict("You cannot change your own role or station; ask another administrator.")
    if "station_id" in changes:
        station = await _station_for(session, actor, changes["station_id"])
    if "role" in changes or "station_id" in changes:
        require_may_assign(actor, changes.get("role", user.role), station.path)
        # Sessions and access tokens carry the old role and scope: end them.
        await tokens_repo.revoke_user(session, user.id)
        changes["token_generation"] = user.token_generation + 1
    if not changes:
        return target
    changes["updated_by"] = actor.user_id
    return UserAt(await repo.apply(session, user, changes), station)


async def _set_password(session: AsyncSession, user: User, password: str, passwords: Passwords) -> None:
    await repo.apply(session, user, {
        "password_hash": await passwords.hash(password), "password_changed_at": datetime.now(UTC),
        "token_generation": user.token_generation + 1,
    })
    await tokens_repo.revoke_user(session, user.id)
    await lift_throttle(session, user)


async def reset_password(session: AsyncSession, actor: Principal, target: UserAt, password: str,
                         passwords: Passwords) -> None:
    user, station = target
    require_may_assign(actor, user.role, station.path)
    if _is_self(actor, user):
        # A stolen access token alone must not be enough to take over the account.
        raise NotAllowed("Change your own password at /v1/me/password, with your current password.")
    await check_policy(password, user.username, context=password_context(user.display_name, station))
    await _set_password(session, user, password, passwords)


async def change_own_password(session: AsyncSession, actor: Principal, body: PasswordChange,
                              passwords: Passwords) -> None:
    found = await in_scope(session, actor, int(actor.user_id), for_update=True)
    user = found.user
    if not await passwords.verify(user.password_hash, body.old_password):
        raise InvalidInput.field("old_password", "The current password is not correct.", "incorrect")
    await check_policy(body.new_password, user.username, field="new_password",
                       context=password_context(user.display_name, found.station))
    await _set_password(session, user, body.new_password, passwords)


async def set_disabled(session: AsyncSession, actor: Principal, target: UserAt, disabled: bool) -> UserAt:
    user, station = target
    require_may_assign(actor, user.role, station.path)
    if _is_self(actor, user):
        raise Conflict("You cannot disable or enable your own account.")
    if disabled:
        await tokens_repo.revoke_user(session, user.id)
        if user.disabled_at is None:
            await repo.apply(session, user, {"disabled_at": datetime.now(UTC), "updated_by": actor.user_id,
                                             "token_generation": user.token_generation + 1})
    else:
        # Enabling also lifts the delays left by failed logins, from every address.
        await lift_throttle(session, user)
        if user.disabled_at is not None:
            await repo.apply(session, user, {"disabled_at": None, "updated_by": actor.user_id})
    return UserAt(user, station)
