"""Tokens, the principal and its station scope.

The gateway signs access tokens with its private key (EdDSA); every process verifies
them locally with the public key, with no call back per request. The principal carries
the station path of its scope: every query on personal records is filtered by it.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Forbidden, Unauthorized


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
        return station_path.startswith(self.station_path)

    def scope(self, column: InstrumentedAttribute | ColumnElement) -> ColumnElement[bool]:
        """SQL filter: the row's station path lies in this principal's subtree."""
        return column.startswith(self.station_path, autoescape=False)

    @property
    def may_read_personal(self) -> bool:
        return self.role in PERSONAL_READERS

    @property
    def may_write_personal(self) -> bool:
        return self.role in PERSONAL_WRITERS

    @property
    def may_read_sensitive(self) -> bool:
        return self.role in SENSITIVE_READERS


class TokenSigner:
    """Used by the gateway only: it alone holds the private key."""

    def __init__(self, private_key_pem: str, issuer: str, audience: str, access_ttl_s: int = 900) -> None:
        self._key = private_key_pem
        self.issuer = issuer
        self.audience = audience
        self.access_ttl_s = access_ttl_s

    def access_token(self, principal: Principal, *, ttl_s: int | None = None, kind: str = ACCESS_TOKEN) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": principal.user_id, "iat": now,
            "exp": now + (ttl_s or self.access_ttl_s), "jti": uuid.uuid4().hex, "typ": kind,
            "role": principal.role.value, "sid": principal.station_id, "spath": principal.station_path,
            "name": principal.name,
        }
        if principal.device_id:
            claims["dev"] = principal.device_id
        if principal.generation is not None:
            claims["gen"] = principal.generation
        return jwt.encode(claims, self._key, algorithm="EdDSA")

    def service_token(self, ttl_s: int = 3600) -> str:
        """For the gateway's calls to internal service endpoints (stats, station replication)."""
        svc = Principal(user_id="gateway", role=Role.service, station_id=0, station_path="/")
        return self.access_token(svc, ttl_s=ttl_s, kind=SERVICE_TOKEN)


class TokenVerifier:
    # Tokens verified lately, by their exact text, with their expiry: a client sends the same
    # access token on every request until it expires, and checking its EdDSA signature and claims
    # costs about 80 us, a tenth of a read by id. Only the expiry can change a verdict later.
    CACHE_SIZE = 4096

    def __init__(self, public_key_pem: str, issuer: str, audience: str) -> None:
        # Parse the PEM once: PyJWT would otherwise load it on every request.
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        self._key = load_pem_public_key(public_key_pem.encode())
        self.issuer = issuer
        self.audience = audience
        self._verified: dict[tuple[str, str], tuple[Principal, float]] = {}

    def verify(self, token: str, kind: str = ACCESS_TOKEN) -> Principal:
        hit = self._verified.get((token, kind))
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        principal, expires = self._verify(token, kind)
        if hit is None and len(self._verified) >= self.CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[(token, kind)] = (principal, expires)
        return principal

    def _verify(self, token: str, kind: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(token, self._key, algorithms=["EdDSA"], audience=self.audience,
                                issuer=self.issuer, options={"require": ["exp", "sub", "typ"]})
        except jwt.ExpiredSignatureError:
            self._verified.pop((token, kind), None)
            raise Unauthorized("The access token has expired; refresh it.") from None
        except jwt.PyJWTError:
            raise Unauthorized("The access token is not valid.") from None
        if claims.get("typ") != kind:
            raise Unauthorized("This token cannot be used here.")
        try:
            return Principal(user_id=str(claims["sub"]), role=Role(claims["role"]), station_id=int(claims["sid"]),
                             station_path=str(claims["spath"]), name=str(claims.get("name", "")),
                             device_id=claims.get("dev"), generation=_generation(claims.get("gen"))), \
                float(claims["exp"])
        except (KeyError, ValueError, TypeError):
            raise Unauthorized("The access token is not valid.") from None


def _generation(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("gen")
    return value


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


async def require_personal_reader(principal: PrincipalDep) -> Principal:
    if not principal.may_read_personal:
        raise Forbidden("This role sees aggregate figures only, not personal records.")
    return principal


async def require_personal_writer(principal: PrincipalDep) -> Principal:
    if not principal.may_write_personal:
        raise Forbidden("This role cannot change personal records.")
    return principal


ReaderDep = Annotated[Principal, Depends(require_personal_reader)]
WriterDep = Annotated[Principal, Depends(require_personal_writer)]
