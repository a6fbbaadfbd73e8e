"""Tokens: signed by the gateway, verified by every process.

The gateway signs access tokens with its private key (EdDSA); every process verifies
them locally with the public key, with no call back per request. A token carries the
principal (shared.principals) with the station path of its scope.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from shared.errors import Unauthorized
from shared.principals import ACCESS_TOKEN, SERVICE_TOKEN, Principal, Role


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
