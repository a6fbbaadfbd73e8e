"""Who did it, and every write logged in the transaction that makes it.

A `before_flush` listener adds one audit row per created, changed or (soft-)deleted record of the
tracked models, so a rolled-back write leaves no audit row and a committed one cannot lack it.

The actor is the principal of the request (`request.state.principal`, set when the token is
verified), or the device a sync push acts for (`session.info["principal"]`). The address is the
client's as the process believes it (shared/proxies.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from shared.audit.model import CREATE, DELETE, LOG_COLUMNS, UPDATE
from shared.principals import Principal
from shared.observability import request_id_var
from shared.proxies import request_client


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str
    device_id: str | None = None
    address: str | None = None
    request_id: str | None = None
    operation: str | None = None

    def row(self) -> dict[str, Any]:
        return {"actor_id": self.user_id[:64], "actor_role": self.role[:16], "device_id": self.device_id,
                "address": self.address, "request_id": self.request_id, "operation": self.operation}


SYSTEM = Actor(user_id="system", role="system")


def actor_of(request: Request | None, principal: Principal | None = None) -> Actor:
    if request is None:
        return SYSTEM if principal is None else Actor(principal.user_id, principal.role.value, principal.device_id)
    principal = principal or getattr(request.state, "principal", None)
    route = request.scope.get("route")
    operation = getattr(route, "name", None)
    address = request_client(request.scope)
    rid = request_id_var.get()
    rid = None if rid == "-" else rid
    if principal is None:
        return Actor("anonymous", "anonymous", None, address, rid, operation)
    return Actor(principal.user_id, principal.role.value, principal.device_id, address, rid, operation)


# ---------------------------------------------------------------- writes, in the writing transaction

@dataclass(frozen=True)
class Tracked:
    log: type  # the AuditLog model of the record's schema
    table: str
    station_path: Any  # record -> its station path (or None)
    record_id: Any  # record -> its id as logged
    # Columns whose change alone is bookkeeping, not a change of the record (a login's counters).
    ignored: frozenset[str] = frozenset()


_tracked: dict[type, Tracked] = {}


def track(log_model: type, *models: type, station_path=None, record_id=None,
          ignored: frozenset[str] = frozenset()) -> None:
    """Log every ORM write of these models to `log_model`. `station_path(record)` defaults to the
    record's own `station_path` column, `record_id(record)` to its `id`. Core INSERT/UPDATE
    statements bypass the ORM: their repositories call `log_write`."""
    for model in models:
        _tracked[model] = Tracked(log_model, model.__tablename__,
                                  station_path or (lambda r: getattr(r, "station_path", None)),
                                  record_id or (lambda r: r.id), ignored)


def _action(session: Session, obj: Any, spec: Tracked) -> str | None:
    if obj in session.new:
        return CREATE
    if obj in session.deleted:
        return DELETE
    state = inspect(obj)
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    if not changed - spec.ignored:
        return None
    if "deleted_at" in changed:
        history = state.attrs.deleted_at.history
        if history.added and history.added[0] is not None and not any(history.deleted):
            return DELETE  # a soft delete: the tombstone is set
    return UPDATE


def session_actor(session: Session) -> Actor:
    """Who writes in this session: the request's principal, or the device a push acts for."""
    actor: Actor | None = session.info.get("audit_actor")
    if actor is None:
        actor = actor_of(session.info.get("request"), session.info.get("principal"))
        session.info["audit_actor"] = actor
    return actor


def _add(session: Session, obj: Any, spec: Tracked, action: str) -> None:
    log_write(session, spec.log, action, spec.table, str(spec.record_id(obj)), spec.station_path(obj))


def log_write(session, log_model: type, action: str, table: str, record_id: str,
              station_path: str | None = None) -> None:
    """Log a write in the session's transaction, once per record, action and transaction (a record
    flushed twice, created then given its counts, is one create). `session`: sync or async."""
    session = getattr(session, "sync_session", session)
    if not _first_time(session, action, table, record_id):
        return
    session.add(log_model(**session_actor(session).row(), action=action, record_table=table,
                          record_id=record_id[:64], station_path=station_path))


async def log_writes_raw(session, conn, log_model: type, action: str, table: str,
                         records: list[tuple[str, str | None]]) -> None:
    """`log_write` for records a lean write path wrote with raw statements on the session's asyncpg
    connection `conn` (shared.db.raw_connection): the same rows, the same once-per-transaction rule,
    all in one INSERT."""
    session = getattr(session, "sync_session", session)
    fresh = [(record_id[:64], path) for record_id, path in records if _first_time(session, action, table, record_id)]
    if not fresh:
        return
    actor = session_actor(session)
    await conn.execute(_raw_insert_sql(log_model), actor.user_id[:64], actor.role[:16], actor.device_id,
                       actor.address, actor.request_id, actor.operation, action, table,
                       [r[0] for r in fresh], [r[1] for r in fresh])


def _first_time(session: Session, action: str, table: str, record_id: str) -> bool:
    """Whether this transaction has not logged the record for `action` yet (a record flushed twice,
    created then given its counts, is one create), and it is now."""
    done: set = session.info.setdefault("audited", set())
    key = (table, record_id)
    if (key, action) in done or (action == UPDATE and (key, CREATE) in done):
        return False
    done.add((key, action))
    return True


@functools.cache
def _raw_insert_sql(log_model: type) -> str:
    t = log_model.__table__
    return (f'INSERT INTO "{t.schema}"."{t.name}" ({LOG_COLUMNS}) '
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, r.id, r.path FROM unnest($9::text[], $10::text[]) AS r(id, path)")


@event.listens_for(Session, "before_flush")
def _log_writes(session: Session, flush_context, instances) -> None:
    for obj in [o for o in (*session.new, *session.dirty, *session.deleted) if type(o) in _tracked]:
        spec = _tracked[type(obj)]
        action = _action(session, obj, spec)
        if action is None:
            continue
        if spec.record_id(obj) is None:
            # An id the database makes (the gateway's users, stations, devices): logged once this
            # flush has given it one, still in the same transaction.
            session.info.setdefault("identity_pending", []).append(obj)
            continue
        _add(session, obj, spec, action)


@event.listens_for(Session, "after_flush_postexec")
def _log_pending(session: Session, flush_context) -> None:
    for obj in session.info.pop("identity_pending", ()):
        _add(session, obj, _tracked[type(obj)], CREATE)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    # SQLAlchemy signals a savepoint's release as a commit too: the transaction goes on, and a record it
    # logged already is not logged again (an occasion given one attendee after another, each in a savepoint).
    if not session.in_nested_transaction():
        _forget(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("audited", None)
    session.info.pop("identity_pending", None)


def log_event(session, log_model: type, request: Request | None, action: str, table: str, record_id: str,
              principal: Principal | None = None, station_path: str | None = None) -> None:
    """A named event (a login, a failed login) in the session's transaction."""
    actor = actor_of(request, principal)
    session.add(log_model(**actor.row(), action=action, record_table=table, record_id=str(record_id)[:64],
                          station_path=station_path))
