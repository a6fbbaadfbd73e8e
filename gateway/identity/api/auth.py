"""Tokens: the OAuth2 password grant (so the docs' Authorize button works), refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from gateway.deps import WriteSessionDep, PasswordsDep, SettingsDep, SignerDep, login_throttle
from gateway.identity.schemas import LoginAnswer, RefreshRequest, TokenPair
from gateway.identity.service import auth as service
from gateway.models import AuditLog, User
from shared.audit.listener import log_event
from shared.principals import Principal, Role
from shared.errors import InvalidInput

router = APIRouter(prefix="/auth", tags=["auth"])
# These take no access token (the credential is in the body), so the shared docs do not list 401.
REFUSED = {401: {"description": "Wrong credentials, or a refresh token that is spent, revoked or expired"}}
THROTTLED = {429: {"description": "Too many attempts from this address, or too many failed ones for this username "
                                  "from it: wait Retry-After seconds"}}


@router.post("/token", responses={**REFUSED, **THROTTLED})
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: WriteSessionDep,
                signer: SignerDep, settings: SettingsDep, passwords: PasswordsDep, request: Request,
                address: Annotated[str, Depends(login_throttle)]) -> LoginAnswer:
    """Log in with username and password (form fields); answers an access and a refresh token, and
    how many failed logins the account had since its last login."""

    def audit(action: str, user: User) -> None:
        # The account is the actor: it is who claims to be logging in, from this address.
        who = Principal(user_id=str(user.id), role=Role(user.role), station_id=user.station_id, station_path="")
        log_event(session, AuditLog, request, action, "user", str(user.id), principal=who)

    if "\x00" in form.username:  # no username holds it, and PostgreSQL text cannot: not worth a lookup
        raise InvalidInput.field("username", "must not contain the NUL character (U+0000)", "nul")
    return await service.login(session, signer, settings, passwords, form.username, form.password, address, audit)


@router.post("/refresh", responses=REFUSED)
async def refresh(body: RefreshRequest, session: WriteSessionDep, signer: SignerDep,
                  settings: SettingsDep) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works once."""
    return await service.refresh(session, signer, settings, body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, session: WriteSessionDep) -> None:
    """End the login the refresh token belongs to (its access tokens expire on their own)."""
    await service.logout(session, body.refresh_token)
