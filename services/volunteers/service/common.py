"""What every write shares: the keys for sensitive fields, idempotent creates, versions."""

import hashlib
import hmac
from dataclasses import dataclass

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import IdInUse
from services.volunteers.repository import common as repo
from shared.auth import Principal
from shared.crypto import BlindIndex, FieldCipher
from shared.etag import check_version


@dataclass(frozen=True)
class Vault:
    """Keys for sensitive fields, built once in the lifespan."""

    cipher: FieldCipher
    blind_index: BlindIndex
    digest_key: bytes

    def digest(self, kind: str, body: BaseModel, *context: str) -> str:
        # Keyed, because a create body can hold an ID number, and ID numbers are few enough to guess.
        payload = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        msg = "\x1f".join((kind, *context)).encode() + b"\x1e" + payload
        return hmac.new(self.digest_key, msg, hashlib.sha256).hexdigest()


async def replay(session: AsyncSession, model, record_id: str | None, digest: str, principal: Principal):
    """The record a retried create made already, or None when the id is free.

    Same id and same body answer the existing record; a different body, a deleted record or
    one outside the caller's scope all read as "id in use" without saying which.
    """
    if record_id is None:
        return None
    existing = await repo.get_any(session, model, record_id)
    if existing is None:
        return None
    if (existing.deleted_at is None and principal.in_scope(existing.station_path)
            and existing.create_digest == digest):
        return existing
    raise IdInUse()


def touch(record, principal: Principal, expected_version: int | None) -> None:
    """Mark a change: optimistic-concurrency check, then version and author."""
    if expected_version is not None:
        check_version(expected_version, record.version)
    record.version += 1
    record.updated_by = principal.user_id
