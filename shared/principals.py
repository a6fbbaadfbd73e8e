"""Who is asking: roles, the role sets that decide what each role may see, the principal, and the
request dependencies that answer it.

Every role set is written here once, and so is each way of refusing a role. Two answers exist on
purpose, and each dependency's name says which one it gives:
- `..._or_403`: routes where the caller names no record (lists, searches, creates); the refusal
  says what the role cannot do.
- `..._or_404`: routes on a record by id; a role that sees aggregates only gets 404 exactly as for
  a missing id, so an answer never tells whether a person exists.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.errors import Forbidden, NotFound, Unauthorized
from shared.scope import path_under

if TYPE_CHECKING:
    from shared.auth import TokenVerifier


class Role(str, enum.Enum):
    admin = "admin"
    official = "official"
    station_head = "station_head"
    social_worker = "social_worker"
    supervisor = "supervisor"
    volunteer = "volunteer"
    # Not a user role: the gateway calling a service's internal endpoints.
    service = "service"


# Roles that may see personal records at all; officials see aggregates only.
PERSONAL_READERS = frozenset({Role.admin, Role.station_head, Role.social_worker, Role.supervisor})
PERSONAL_WRITERS = frozenset({Role.admin, Role.station_head, Role.social_worker})
# Roles that work with the person and so see health, disability and case notes (sealed columns);
# an administrator keeps the platform running and sees those fields blank (least privilege, PIPL).
SENSITIVE_READERS = frozenset({Role.station_head, Role.social_worker, Role.supervisor})
# Roles that work with the person directly and so see an ID number, a phone or an emergency contact
# in full when they read one record (shared.masking); every list masks them.
REVEALING_ROLES = frozenset({Role.station_head, Role.social_worker})
# Roles that set a station's approval rules and assign its supervisors (services/cases/service/approvals.py).
SUPERVISION_MANAGERS = frozenset({Role.admin, Role.station_head})
# Roles that move a person to another station (services/cases/service/transfers.py): at once within their
# own subtree, as a request to the receiving station beyond it.
TRANSFER_REQUESTERS = frozenset({Role.admin, Role.station_head, Role.social_worker})
# Roles that accept or decline a request to move a person into a station of their subtree: whoever heads
# the receiving station (or a station above it), never a worker alone.
TRANSFER_DECIDERS = frozenset({Role.admin, Role.station_head})
# A supervisor reads and decides approvals through their live assignments to stations, not their own subtree.
SUPERVISOR_ROLE = Role.supervisor
# A station tablet works for the people of its station, as a social worker there does.
DEVICE_ROLE = Role.social_worker

# The kinds of token (the `typ` claim): a person's or a device's access, or the gateway's service token.
ACCESS_TOKEN = "access"
SERVICE_TOKEN = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: Role
    station_id: int
    station_path: str
    name: str = ""
    device_id: str | None = None
    # The account's token generation when the token was issued: the gateway refuses a token whose
    # generation is no longer the account's (disabled, demoted, moved, password changed).
    generation: int | None = None

    def in_scope(self, station_path: str) -> bool:
        """The row at `station_path` lies in this principal's subtree (shared.scope)."""
        return path_under(station_path, self.station_path)

    @property
    def may_read_personal(self) -> bool:
        return self.role in PERSONAL_READERS

    @property
    def may_write_personal(self) -> bool:
        return self.role in PERSONAL_WRITERS

    @property
    def may_read_sensitive(self) -> bool:
        return self.role in SENSITIVE_READERS


def device_principal(device_id: str, station_id: int, station_path: str, name: str = "") -> Principal:
    """A station tablet, acting for its station; the records it writes name the device as author."""
    return Principal(user_id=f"device:{device_id}", role=DEVICE_ROLE, station_id=station_id,
                     station_path=station_path, name=name, device_id=device_id)


# tokenUrl is the gateway's; services show the same so their docs' Authorize works via the gateway.
# The name and description are what the Authorize dialog of /docs shows a person logging in.
LOGIN_SCHEME = {"tokenUrl": "/v1/auth/token", "scheme_name": "Login",
                "description": "Your username and password (a person's account; the access token comes from "
                               "POST /v1/auth/token)."}
oauth2_scheme = OAuth2PasswordBearer(**LOGIN_SCHEME, auto_error=False)

# The dependencies below are `async def` although they do no I/O: FastAPI runs a plain `def`
# dependency in the thread pool, a hand-off each way on every request.


async def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise Unauthorized("Log in and send the access token as 'Authorization: Bearer <token>'.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(token)
    request.state.principal = principal  # the actor of the audit log (shared.audit)
    return principal


async def service_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    """Internal endpoints: only the gateway's service token, never a user's token."""
    if not token:
        raise Unauthorized("Internal endpoint: a service token is required.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(token, kind=SERVICE_TOKEN)
    request.state.principal = principal
    return principal


class PrincipalBearer(OAuth2PasswordBearer):
    """The bearer scheme as one dependency that answers the verified principal, with an optional
    role check: what oauth2_scheme, current_principal and a role dependency do in three, for hot
    paths where each layer of FastAPI's dependency solving shows. OpenAPI shows the same scheme
    as oauth2_scheme, so the docs' Authorize covers these operations too."""

    def __init__(self, check: Callable[[Principal], None] | None = None) -> None:
        super().__init__(**LOGIN_SCHEME, auto_error=False)
        self._check = check

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await current_principal(request, await super().__call__(request))
        if self._check is not None:
            self._check(principal)
        return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
ServicePrincipalDep = Annotated[Principal, Depends(service_principal)]


# The checks, for PrincipalBearer and for services that add a rule of their own.

def check_personal_reader_or_403(principal: Principal) -> None:
    if not principal.may_read_personal:
        raise Forbidden("This role sees aggregate figures only, not personal records.")


def check_personal_writer_or_403(principal: Principal) -> None:
    if not principal.may_write_personal:
        raise Forbidden("This role cannot change personal records.")


def check_personal_reader_or_404(principal: Principal) -> None:
    if not principal.may_read_personal:
        raise NotFound("Not found.")


def check_personal_writer_or_404(principal: Principal, what: str = "personal records") -> None:
    """404 to a role that may not even read the record, 403 to a reader who may not change it."""
    check_personal_reader_or_404(principal)
    if not principal.may_write_personal:
        raise Forbidden(f"This role cannot change {what}.")


def _checked(check: Callable[[Principal], None]) -> Callable:
    """The dependency answering the principal once `check` let them through."""
    async def dependency(principal: PrincipalDep) -> Principal:
        check(principal)
        return principal

    dependency.__name__ = check.__name__.removeprefix("check_")
    return dependency


PersonalReaderOr403 = Annotated[Principal, Depends(_checked(check_personal_reader_or_403))]
PersonalWriterOr403 = Annotated[Principal, Depends(_checked(check_personal_writer_or_403))]
PersonalReaderOr404 = Annotated[Principal, Depends(_checked(check_personal_reader_or_404))]
PersonalWriterOr404 = Annotated[Principal, Depends(_checked(check_personal_writer_or_404))]
