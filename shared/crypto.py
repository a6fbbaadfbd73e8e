"""Field encryption at rest and blind indexes for sensitive values (ID numbers, phones).

AES-256-GCM with a key id in each ciphertext so keys can rotate: the first configured
key encrypts, every configured key decrypts. A keyed HMAC of the normalised value (the
blind index) finds duplicates without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class FieldCipher:
    def __init__(self, keys_spec: str) -> None:
        """keys_spec: "kid:base64key,kid:base64key"; the first one encrypts."""
        self._keys: dict[str, AESGCM] = {}
        self._current: str | None = None
        for part in (keys_spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            kid, _, b64 = part.partition(":")
            key = base64.urlsafe_b64decode(b64)
            if len(key) != 32 or not kid:
                raise ValueError("FIELD_ENCRYPTION_KEYS entries must be 'kid:<32 bytes base64>'")
            self._keys[kid] = AESGCM(key)
            self._current = self._current or kid
        if not self._current:
            raise RuntimeError("FIELD_ENCRYPTION_KEYS is not set")

    def encrypt(self, plaintext: str | None, context: str = "") -> str | None:
        if plaintext is None:
            return None
        nonce = os.urandom(12)
        ct = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self._current}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str | None, context: str = "") -> str | None:
        if token is None:
            return None
        kid, _, b64 = token.partition(":")
        raw = base64.urlsafe_b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()


class BlindIndex:
    def __init__(self, key: str) -> None:
        if not key:
            raise RuntimeError("BLIND_INDEX_KEY is not set")
        self._key = key.encode()

    def __call__(self, value: str | None, kind: str) -> str | None:
        if value is None:
            return None
        normalised = "".join(value.split()).upper()
        return hmac.new(self._key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def mask(value: str | None, keep_start: int = 0, keep_end: int = 4) -> str | None:
    """'510104199001011234' -> '5101**********1234' with keep_start=4."""
    if value is None:
        return None
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]
