"""Tokens: the OAuth2 password grant (so the docs' Authorize button works), refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from gateway.deps import WriteSessionDep, PasswordsDep, SettingsDep, SignerDep, login_throttle
from gateway.identity.schemas import RefreshRequest, TokenPair
from gateway.identity.service import auth as service
from gateway.models import AuditLog, User
from shared.audit import log_event
from shared.auth import Principal, Role

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", dependencies=[Depends(login_throttle)])
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: WriteSessionDep,
                signer: SignerDep, settings: SettingsDep, passwords: PasswordsDep, request: Request) -> TokenPair:
    """Log in with username and password (form fields); answers an access and a refresh token."""

    def audit(action: str, user: User) -> None:
        # The account is the actor: it is who claims to be logging in, from this address.
        who = Principal(user_id=str(user.id), role=Role(user.role), station_id=user.station_id, station_path="")
        log_event(session, AuditLog, request, action, "user", str(user.id), principal=who)

    return await service.login(session, signer, settings, passwords, form.username, form.password, audit)


@router.post("/refresh")
async def refresh(body: RefreshRequest, session: WriteSessionDep, signer: SignerDep,
                  settings: SettingsDep) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works once."""
    return await service.refresh(session, signer, settings, body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, session: WriteSessionDep) -> None:
    """End the login the refresh token belongs to (its access tokens expire on their own)."""
    await service.logout(session, body.refresh_token)
