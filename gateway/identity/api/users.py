"""User endpoints (admins and station heads, within their subtree) and one's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from gateway.deps import (ActorDep, ManagerDep, PasswordsDep, ReadSessionDep, UserDep, WritableUserDep,
                          WriteSessionDep)
from gateway.identity.schemas import (MeRead, PasswordChange, PasswordReset, StationBrief, UserCreate, UserRead,
                                      UserRole, UserUpdate)
from gateway.identity.service import users as service
from gateway.identity.service.users import UserAt
from shared.etag import required_version, set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.schemas import RowId

router = APIRouter(tags=["users"])
PageDep = Annotated[PageParams, Depends(page_params)]


def _read(user) -> UserRead:
    return UserRead.model_validate(user)


def _answer(found: UserAt, response: Response) -> UserRead:
    set_etag(response, found.user.version)
    return _read(found.user)


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, actor: ManagerDep, session: WriteSessionDep, passwords: PasswordsDep,
                      response: Response) -> UserRead:
    """Create a user bound to a station of your scope (station heads: workers, supervisors, volunteers)."""
    found = await service.create(session, actor, body, passwords)
    response.headers["Location"] = f"/v1/users/{found.user.id}"
    return _answer(found, response)


@router.get("/users")
async def list_users(actor: ManagerDep, session: ReadSessionDep, params: PageDep,
                     role: Annotated[UserRole | None, Query()] = None,
                     station_id: Annotated[RowId | None, Query()] = None) -> Page[UserRead]:
    """Users bound to stations of your scope, optionally of one role or one station."""
    rows = await service.list_users(session, actor, params, role, station_id)
    return make_page(list(rows), params, ["id"], _read)


@router.get("/users/{user_id}")
async def get_user(found: UserDep, response: Response) -> UserRead:
    """One user of your scope."""
    return _answer(found, response)


@router.patch("/users/{user_id}")
async def update_user(body: UserUpdate, found: WritableUserDep, actor: ManagerDep, session: WriteSessionDep,
                      request: Request, response: Response) -> UserRead:
    """Change a user's name, phone, role or station; send If-Match with the ETag you read."""
    return _answer(await service.update(session, actor, found, body, required_version(request)), response)


@router.post("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(body: PasswordReset, found: WritableUserDep, actor: ManagerDep, session: WriteSessionDep,
                         passwords: PasswordsDep) -> None:
    """Set a new password for a user you manage; their sessions end and a login lock is lifted."""
    await service.reset_password(session, actor, found, body.password, passwords)


@router.post("/users/{user_id}/disable")
async def disable_user(found: WritableUserDep, actor: ManagerDep, session: WriteSessionDep,
                       response: Response) -> UserRead:
    """Disable a user: logins and refreshes are refused and their sessions end."""
    return _answer(await service.set_disabled(session, actor, found, True), response)


@router.post("/users/{user_id}/enable")
async def enable_user(found: WritableUserDep, actor: ManagerDep, session: WriteSessionDep,
                      response: Response) -> UserRead:
    """Enable a user again; also lifts a lock left by failed logins."""
    return _answer(await service.set_disabled(session, actor, found, False), response)


@router.get("/me")
async def me(actor: ActorDep, session: ReadSessionDep, response: Response) -> MeRead:
    """Your own profile: role and the station you are bound to."""
    found = await service.in_scope(session, actor, int(actor.user_id))
    set_etag(response, found.user.version)
    return MeRead(**_read(found.user).model_dump(), station=StationBrief.model_validate(found.station))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_my_password(body: PasswordChange, actor: ActorDep, session: WriteSessionDep,
                             passwords: PasswordsDep) -> None:
    """Change your own password with your current one; every session of yours ends (log in again)."""
    await service.change_own_password(session, actor, body, passwords)
