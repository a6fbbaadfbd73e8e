"""`Idempotency-Key` on every create, with Stripe's semantics.

A client that sent a create and got no answer sends it again with the same key:

- same key, same request (method, path, query, body): the first answer again (status, body,
  Location, ETag...), marked `Idempotent-Replayed: true`, and nothing is written twice;
- same key, another request: 422 naming the header, nothing written;
- a retry arriving while the first is still running waits for it (a transaction-level advisory
  lock on the key) and then gets its answer;
- a key belongs to its caller (the token's user, and device when a tablet sends it): another
  caller's same key is another request. Keys live 24 hours; expired rows are pruned as new ones
  are stored, and an expired key is free again.

Which requests: every POST whose route answers 201 Created (a create, in any app built by
shared.app.build_app) and carries the header. Without the header nothing changes; client-made
ids keep working as before (shared.records).

The answer is stored in the create's own transaction: the create's write session
(shared.db.write_session) is opened here (`Claim.transaction`), the handler writes in it, and
the middleware commits it together with the answer before the answer leaves. So a create
without its stored answer, or an answer without its create, cannot be committed.

Stored answers are records as their caller saw them (names, ID numbers masked or not, a
tablet's credential), so nothing of them is readable at rest without the key: the row is found
by an HKDF of (caller, key), and the answer is AES-GCM encrypted, and the request fingerprinted,
under keys derived from the Idempotency-Key, which only the client holds. The server keeps no key
that opens them, so there is nothing to rotate, and a copy of the database does not reveal them.
That is why a key must be at least 16 characters (a UUID is 36): guessable keys would make
guessable answer keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.routing import APIRoute
from sqlalchemy import DateTime, Index, LargeBinary, SmallInteger, String, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from shared.db import IDEMPOTENCY_CLAIM, CommitAnyway, database_unavailable, unavailable_response
from shared.errors import AppError, InvalidInput

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
TTL = timedelta(hours=24)
# A UUID is 36; shorter keys would make the keys derived from them guessable (see above).
KEY_PATTERN = re.compile(r"[!-~]{16,255}")  # visible ASCII
FIELD = "header.idempotency-key"
# Answer headers a retry gets back; the rest (request id, length, date) belong to each answer.
KEPT_HEADERS = frozenset({b"content-type", b"location", b"etag", b"content-language", b"cache-control",
                          b"content-disposition", b"last-modified", b"link", b"vary"})
# Expired rows deleted alongside each stored answer: enough to keep up with any write rate.
PRUNE_BATCH = 100


def idempotency_model(base) -> type:
    """One process's stored answers, in its own schema."""

    class IdempotentAnswer(base):
        __tablename__ = "idempotency_key"
        # HKDF of (caller, key): the key itself is never stored.
        id: Mapped[str] = mapped_column(String(64), primary_key=True)
        fingerprint: Mapped[str] = mapped_column(String(64))
        status: Mapped[int] = mapped_column(SmallInteger)
        # nonce + AES-GCM(headers JSON, NUL, body) under a key derived from the Idempotency-Key.
        answer: Mapped[bytes] = mapped_column(LargeBinary)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

        __table_args__ = (Index("ix_idempotency_key_created_at", "created_at"),)

    return IdempotentAnswer


class KeyReused(InvalidInput):
    type = "idempotency-key-reused"


def invalid_key() -> InvalidInput:
    return InvalidInput.field(FIELD, "Idempotency-Key must be 16 to 255 visible ASCII characters: send a new "
                                     "random UUID with each new request.", "invalid_key")


def key_reused() -> KeyReused:
    return KeyReused("This Idempotency-Key was sent with a different request; send a new key with each new "
                     "request.", errors=[{"field": FIELD, "code": "key_reused",
                                          "message": "used with a different request"}])


@dataclass(frozen=True)
class Keys:
    """What one (caller, Idempotency-Key) pair derives."""

    row_id: str
    lock_id: int
    fingerprint_key: bytes
    answer_key: bytes

    @classmethod
    def derive(cls, caller: str, key: str) -> "Keys":
        material = HKDF(algorithm=hashes.SHA256(), length=96, salt=b"haolin idempotency v1",
                        info=caller.encode()).derive(key.encode())
        row = material[:32]
        return cls(row_id=row.hex(), lock_id=int.from_bytes(row[:8], "big", signed=True),
                   fingerprint_key=material[32:64], answer_key=material[64:])

    def fingerprint(self, scope, body: bytes) -> str:
        """The request as the retry must repeat it: method, path, query and body (JSON compared by
        value, a form upload without its random boundary)."""
        content_type = _header(scope, b"content-type") or ""
        canonical = body
        if content_type.startswith("application/json"):
            try:
                canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
            except orjson.JSONDecodeError:
                pass
        elif (boundary := _boundary(content_type)) is not None:
            canonical = body.replace(boundary, b"")
            content_type = content_type.split(";", 1)[0]
        head = "\x1f".join((scope["method"], scope["path"], scope["query_string"].decode("latin-1"),
                            content_type.split(";", 1)[0].strip()))
        return hmac.new(self.fingerprint_key, head.encode() + b"\x1e" + canonical, hashlib.sha256).hexdigest()

    def seal(self, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        plain = orjson.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]) + b"\x00" + body
        nonce = os.urandom(12)
        return nonce + AESGCM(self.answer_key).encrypt(nonce, plain, self.row_id.encode())

    def open(self, sealed: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
        plain = AESGCM(self.answer_key).decrypt(sealed[:12], sealed[12:], self.row_id.encode())
        head, _, body = plain.partition(b"\x00")
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in orjson.loads(head)], body


def _header(scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


def _boundary(content_type: str) -> bytes | None:
    if not content_type.startswith("multipart/"):
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


# --- the stored answers (every statement on the table) ----------------------------------------

async def lock_and_find(session: AsyncSession, model, keys: Keys):
    """Wait for any request holding this key, then its live stored answer (or None)."""
    await session.execute(select(func.pg_advisory_xact_lock(keys.lock_id)))
    return (await session.execute(
        select(model.fingerprint, model.status, model.answer)
        .where(model.id == keys.row_id, model.created_at > func.now() - TTL))).first()


async def store(session: AsyncSession, model, keys: Keys, fingerprint: str, status: int, sealed: bytes) -> None:
    """Keep an answer (replacing an expired one under the same key) and prune a batch of expired ones."""
    expired = (select(model.id).where(model.created_at <= func.now() - TTL).order_by(model.created_at)
               .limit(PRUNE_BATCH).with_for_update(skip_locked=True))
    await session.execute(delete(model).where(model.id.in_(expired.scalar_subquery())))
    stmt = insert(model).values(id=keys.row_id, fingerprint=fingerprint, status=status, answer=sealed)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[model.id],
        set_={"fingerprint": stmt.excluded.fingerprint, "status": stmt.excluded.status,
              "answer": stmt.excluded.answer, "created_at": text("now()")}))


# --- the middleware and the create's transaction ------------------------------------------------

def is_create(route) -> bool:
    return isinstance(route, APIRoute) and "POST" in route.methods and route.status_code == 201


class Replayed(Exception):
    """A stored answer to send again; raised before the handler runs, so nothing is written."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        super().__init__(status)
        self.status, self.headers, self.body = status, headers, body


async def replayed_response(request: Request, exc: Replayed) -> Response:
    response = Response(exc.body, status_code=exc.status)
    response.raw_headers = [*[(k, v) for k, v in exc.headers], REPLAYED,
                            (b"content-length", str(len(exc.body)).encode())]
    return response


class Claim:
    """A POST that came with an Idempotency-Key. Whether it is a create is known only once the
    request is routed: `shared.db.write_session` asks (`covers`) and, for a create, opens its
    transaction here (`transaction`), which the middleware commits with the answer."""

    def __init__(self, scope, key: str, body: bytes, model) -> None:
        self.scope, self.key, self.body, self.model = scope, key, body, model
        self.keys: Keys | None = None
        self.fingerprint = ""
        # The create's session, handed to the middleware to commit when the answer is ready.
        self.pending: AsyncSession | None = None

    def covers(self, request: Request) -> bool:
        return is_create(request.scope.get("route"))

    @asynccontextmanager
    async def transaction(self, request: Request, db, first: str | None = None) -> AsyncIterator[AsyncSession]:
        """The create's transaction (shared.db.transaction), `first` its first statement."""
        if not KEY_PATTERN.fullmatch(self.key):
            raise invalid_key()
        caller = _caller(self.scope)
        session: AsyncSession = db.write_sessions()
        session.info["request"] = request  # who writes, for the audit log (shared.audit)
        try:
            if first:
                await session.execute(text(first))
            if caller is not None:  # without a valid token the route answers 401 as usual
                self.keys = Keys.derive(caller, self.key)
                self.fingerprint = self.keys.fingerprint(self.scope, self.body)
                found = await lock_and_find(session, self.model, self.keys)
                if found is not None:
                    if not hmac.compare_digest(found.fingerprint, self.fingerprint):
                        raise key_reused()
                    raise Replayed(found.status, *self.keys.open(found.answer))
            self.pending = session
            yield session
        except CommitAnyway:
            self.pending = None
            await session.commit()
            await session.close()
            raise
        except BaseException:
            self.pending = None
            await session.rollback()
            await session.close()
            raise

    async def finish(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Store a success's answer in its transaction and commit both."""
        session, self.pending = self.pending, None
        if session is None:
            return
        try:
            if self.keys is not None and 200 <= status < 300:
                kept = [(k.lower(), v) for k, v in headers if k.lower() in KEPT_HEADERS]
                await store(session, self.model, self.keys, self.fingerprint, status, self.keys.seal(kept, body))
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def abandon(self) -> None:
        """The request ended without an answer (an error on the way out): nothing is kept."""
        session, self.pending = self.pending, None
        if session is not None:
            await session.rollback()
            await session.close()


class IdempotencyMiddleware:
    """Runs inside RequestContextMiddleware, so body limits apply before the body is read here."""

    def __init__(self, app, model) -> None:
        self.app = app
        self.model = model

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        key = _header(scope, HEADER)
        if key is None:
            return await self.app(scope, receive, send)
        body, messages = await _read_body(receive)

        async def replay_receive():
            return messages.pop(0) if messages else await receive()

        claim = scope[IDEMPOTENCY_CLAIM] = Claim(scope, key, body, self.model)
        try:
            await self.app(scope, replay_receive, _Committing(send, claim, scope))
        finally:
            scope.pop(IDEMPOTENCY_CLAIM, None)
            await claim.abandon()


class _Committing:
    """The app's `send`: holds a claimed create's answer back until the transaction that made it
    is committed, with the answer stored in it."""

    def __init__(self, send, claim: Claim, scope) -> None:
        self.send, self.claim, self.scope = send, claim, scope
        self.start: dict[str, Any] | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message) -> None:
        if self.claim.pending is None and self.start is None:
            return await self.send(message)
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            return await self.send(message)
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        try:
            await self.claim.finish(self.start["status"], list(self.start.get("headers", [])), body)
        except Exception as exc:
            # The create was not committed: its answer must not go out.
            if not database_unavailable(exc):
                raise
            return await unavailable_response(self.scope["path"])(self.scope, _no_body, self.send)
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body})


async def _no_body() -> dict:
    return {"type": "http.disconnect"}


def _caller(scope) -> str | None:
    """Whose key it is: the token's user, and its device when a tablet sends it."""
    authorization = _header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        principal = scope["app"].state.verifier.verify(token.strip())
    except AppError:
        return None
    return f"{principal.user_id}\x1f{principal.device_id or ''}"


async def _read_body(receive) -> tuple[bytes, list[dict]]:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, [{"type": "http.request", "body": body, "more_body": False}]


def install_idempotency(app, model) -> None:
    """Every create of `app` honours Idempotency-Key, its answers kept in `model`'s table."""
    app.add_exception_handler(Replayed, replayed_response)
    app.add_middleware(IdempotencyMiddleware, model=model)
