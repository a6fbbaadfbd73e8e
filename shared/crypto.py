"""Field encryption at rest and blind indexes for sensitive values (ID numbers, phones).

AES-256-GCM with a key id in each ciphertext so keys can rotate: the first configured
key encrypts, every configured key decrypts. A keyed HMAC of the normalised value (the
blind index) finds duplicates without decrypting anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


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

    @property
    def current_kid(self) -> str:
        """The id of the key that encrypts: a ciphertext under any other key needs rotating."""
        return self._current  # type: ignore[return-value]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

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
        key = self._keys.get(kid)
        if key is None:
            # The key id only: never the ciphertext or the column's value.
            raise KeyError(f"no key '{kid}' in FIELD_ENCRYPTION_KEYS to decrypt a stored value")
        raw = base64.urlsafe_b64decode(b64)
        return key.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def reseal(self, token: str | None, context: str = "") -> str | None:
        """The value encrypted under the current key (key rotation); as is when it already is."""
        if token is None or kid_of(token) == self._current:
            return token
        return self.encrypt(self.decrypt(token, context), context)


def kid_of(token: str) -> str:
    return token.partition(":")[0]


class _Keys:
    """The cipher of one Sealed column, given by the lifespan of the process that owns its schema
    (`bind`). A box the column's type shares with the copies SQLAlchemy makes of it per dialect."""

    __slots__ = ("cipher",)

    def __init__(self) -> None:
        self.cipher: FieldCipher | None = None


def bind(metadata, cipher: FieldCipher) -> None:
    """Seal and open the sealed columns of `metadata`'s tables (one process's schema) with `cipher`.

    Bound to the tables, not to an engine: rows read without the ORM (`open_row`) come through no
    engine. A schema belongs to one process, whose lifespan binds its own keys (shared.state)."""
    for table in metadata.tables.values():
        for type_ in sealed_columns(table).values():
            type_.keys.cipher = cipher


class Sealed(TypeDecorator):
    """A column stored encrypted (AES-GCM under the current key, bound to `context`, usually
    "schema.table.column") and read back as its plain value, `str` or `int`.

    For free text and categories that nobody filters on in SQL (health, disability, case
    notes): a WHERE on a sealed column never matches, as each encryption differs. Values that
    must be found (ID numbers, phones) are sealed by their service with a blind index beside.
    """

    impl = Text
    cache_ok = True

    def __init__(self, context: str, python_type: type = str) -> None:
        super().__init__()
        self.context = context
        self.kind = python_type
        self.keys = _Keys()

    @property
    def cipher(self) -> FieldCipher:
        if self.keys.cipher is None:
            raise RuntimeError(f"no cipher bound for the sealed column {self.context} (shared.crypto.bind)")
        return self.keys.cipher

    @property
    def python_type(self) -> type:
        return self.kind

    def process_bind_param(self, value: Any, dialect) -> str | None:
        if value is None:
            return None
        return self.cipher.encrypt(str(value), self.context)

    def process_result_value(self, value: str | None, dialect) -> Any:
        return self.open(value)

    def open(self, value: str | None) -> Any:
        if value is None:
            return None
        plain = self.cipher.decrypt(value, self.context)
        return self.kind(plain) if self.kind is not str else plain


@dataclass(frozen=True)
class RowSealed:
    """A column its service seals itself, bound to the row (context "<prefix>:<row id>"), like
    ID numbers and phones: listed so that key rotation (ops.rotate_keys) finds it."""

    table: Any
    column: str
    prefix: str

    def context(self, row_id: str) -> str:
        return f"{self.prefix}:{row_id}"


@functools.cache
def sealed_columns(table) -> Mapping[str, Sealed]:
    """The table's sealed columns by name (read only). Cached: a table's columns are fixed once its
    model is defined, and every raw read by id asks (a hundredth of a read's CPU, py-spy)."""
    return MappingProxyType({c.name: c.type for c in table.columns if isinstance(c.type, Sealed)})


def open_row(table, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row read without the ORM (raw asyncpg), its sealed columns decrypted as the ORM would."""
    out = dict(row)
    for name, type_ in sealed_columns(table).items():
        if name in out:
            out[name] = type_.open(out[name])
    return out


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
