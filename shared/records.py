"""Rules every record's service shares: idempotent creates with client ids, optimistic versions,
the keys for sensitive fields, and the generic record errors.

A create may carry a client-made id (tablets create offline and retry). The create body's digest,
stored with the record, tells a retry (same id, same body: answer the existing record, 200) from
a reuse of the id (409 IdInUse).
"""

import hashlib
import hmac
from datetime import datetime, timezone
from dataclasses import dataclass
from collections.abc import Callable
from typing import ClassVar, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import BlindIndex, FieldCipher, sealed_columns
from shared.errors import Conflict, NotFound
from shared.etag import check_version
from shared.repository import UniqueViolation, get_any, get_live, save
from shared.principals import Principal
from shared.scope import live_row_in

T = TypeVar("T")


class RecordNotFound(NotFound):
    type = "record-not-found"

    def __init__(self, kind: str) -> None:
        super().__init__(f"No such {kind}.")


async def live_or_404(session: AsyncSession, model, record_id: str, principal: Principal, *, kind: str = "",
                      missing: Callable[[], NotFound] | None = None, **kw):
    """The live record of the principal's subtree (get_live, with its for_update and where), or 404:
    the service's own `missing()` where it names one, else RecordNotFound naming `kind`."""
    record = await get_live(session, model, record_id, principal, **kw)
    return found_or(record, missing or (lambda: RecordNotFound(kind)))


def found_or(found: T | None, missing: Callable[[], Exception]) -> T:
    """What a loader found, or the error `missing()` (a 404, a 422 naming the field) where it found nothing."""
    if found is None:
        raise missing()
    return found


class IdInUse(Conflict):
    type = "id-in-use"

    def __init__(self, detail: str = "This id is already used by a different record.") -> None:
        super().__init__(detail, errors=[{"field": "id", "message": detail, "code": "id_in_use"}])


class TransitionNotAllowed(Conflict):
    type = "transition-not-allowed"
    # What the message calls the record; a service may name its own ("project").
    noun: ClassVar[str] = "record"

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        super().__init__(f"'{action}' is not allowed while the {self.noun} is '{status}'.", current_status=status,
                         allowed_actions=allowed)


def digest(kind: str, body: BaseModel, *context: str, key: bytes | None = None) -> str:
    """The create body's fingerprint, under `kind` and the ids it was made under (`context`).

    Keyed (HMAC) when a body can hold an ID number or another personal value few enough to
    guess; plain SHA-256 otherwise.
    """
    payload = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    msg = "\x1f".join((kind, *context)).encode() + b"\x1e" + payload
    if key is None:
        return hashlib.sha256(msg).hexdigest()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Vault:
    """Keys for sensitive fields, built once in the lifespan."""

    cipher: FieldCipher
    blind_index: BlindIndex
    digest_key: bytes

    @staticmethod
    def cipher_of(settings) -> FieldCipher:
        """The field cipher of the settings (FIELD_ENCRYPTION_KEYS)."""
        return FieldCipher(settings.field_encryption_keys or "")

    @classmethod
    def from_settings(cls, settings) -> "Vault":
        """The keys of the settings; the process binds the same cipher to its Sealed columns (shared.state)."""
        return cls(cipher=cls.cipher_of(settings),
                   blind_index=BlindIndex(settings.blind_index_key or ""),
                   digest_key=(settings.blind_index_key or "").encode())

    def digest(self, kind: str, body: BaseModel, *context: str) -> str:
        # Keyed, because a create body can hold an ID number, and ID numbers are few enough to guess.
        return digest(kind, body, *context, key=self.digest_key)


async def replay(session: AsyncSession, model, record_id: str | None, create_digest: str, principal: Principal):
    """The record a retried create made already, or None when the id is free.

    Same id and same body answer the existing record; a different body, a deleted record or
    one outside the caller's scope all read as "id in use" without saying which.
    """
    if record_id is None:
        return None
    existing = await get_any(session, model, record_id)
    if existing is None:
        return None
    if live_row_in(existing, principal) and existing.create_digest == create_digest:
        return existing
    raise IdInUse()


async def save_new(session: AsyncSession, record) -> None:
    """Save a record just made: an id already taken by another record answers 409 (IdInUse)."""
    try:
        await save(session, record)
    except UniqueViolation:
        raise IdInUse() from None


def touch(record, principal: Principal, expected_version: int | None) -> None:
    """Mark a change: optimistic-concurrency check, then version and author."""
    if expected_version is not None:
        check_version(expected_version, record.version)
    record.version += 1
    record.updated_by = principal.user_id


def tombstone(record, principal: Principal, expected_version: int | None) -> None:
    """A soft delete: marked as a change (touch), then deleted now; the row stays for sync and audit."""
    touch(record, principal, expected_version)
    record.deleted_at = datetime.now(timezone.utc)


def withhold(read: BaseModel, table, principal: Principal) -> BaseModel:
    """The answer with the table's sealed fields (health, disability, notes) blank, unless the
    caller's role works with the person (shared.auth.SENSITIVE_READERS)."""
    if principal.may_read_sensitive:
        return read
    names = [n for n in sealed_columns(table) if n in type(read).model_fields]
    return read.model_copy(update=dict.fromkeys(names)) if names else read


def shown(read_schema: type[BaseModel], table, principal: Principal):
    """row -> its Read schema as this principal may see it (see `withhold`)."""
    return lambda row: withhold(read_schema.model_validate(row), table, principal)
