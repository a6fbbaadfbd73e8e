"""The audit log: who did what to which record, when, and from which address or device.

Each process keeps its own `audit_log` table in its own schema (`audit_log_model(Base)`), and
the gateway answers an administrator's questions by asking every process (`/internal/audit`),
never by reading their tables.

- Writes are logged in the transaction that makes them: a `before_flush` listener adds one row
  per created, changed or (soft-)deleted record of the tracked models, so a rolled-back write
  leaves no audit row and a committed one cannot lack it.
- Reads of sensitive records are logged by the handler that serves them, before the answer goes
  out: a read by id in the very statement that reads the record (`audited_read`), a list in a
  statement of its own (`log_reads`). A read whose audit row cannot be written fails.
- The table is append-only to the application: a trigger (migrations, `guard_sql`) refuses every
  UPDATE, and every DELETE except of rows older than the retention, which `prune` sets for its
  own transaction and which can never be under 183 days (DOMAIN.md: kept at least 6 months).

The actor is the principal of the request (`request.state.principal`, set when the token is
verified), or the device a sync push acts for (`session.info["principal"]`). The address is the
client's as the gateway saw it: the gateway sends it as X-Real-IP, which a process believes only
from a peer listed in TRUSTED_PROXIES (the gateway's own connection).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from ipaddress import ip_address, ip_network
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import BigInteger, DateTime, Identity, Index, String, event, func, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.auth import Principal, ServicePrincipalDep
from shared.models import PathType
from shared.observability import request_id_var

MIN_RETENTION_DAYS = 183  # six months: DOMAIN.md "Network logs are kept at least 6 months"
CHILD_AGE = 14  # PIPL: all data of a child under 14 is sensitive

CREATE, UPDATE, DELETE, READ = "create", "update", "delete", "read"


def audit_log_model(Base) -> type:
    """The audit table of one process's schema."""

    class AuditLog(Base):
        __tablename__ = "audit_log"
        id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
        at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.clock_timestamp())
        actor_id: Mapped[str] = mapped_column(String(64))
        actor_role: Mapped[str] = mapped_column(String(16))
        device_id: Mapped[str | None] = mapped_column(String(64))
        address: Mapped[str | None] = mapped_column(String(64))
        request_id: Mapped[str | None] = mapped_column(String(64))
        # create, update, delete, read, or a named event (login, login_failed...).
        action: Mapped[str] = mapped_column(String(24))
        # The API operation that did it (the route's name: "case_close", "sync_push"...).
        operation: Mapped[str | None] = mapped_column(String(80))
        record_table: Mapped[str] = mapped_column(String(40))
        record_id: Mapped[str] = mapped_column(String(64))
        station_path: Mapped[str | None] = mapped_column(PathType)

        __table_args__ = (
            Index("ix_audit_log_record", "record_table", "record_id", "at"),
            Index("ix_audit_log_actor", "actor_id", "at"),
            Index("ix_audit_log_at", "at"),
        )

    return AuditLog


# ---------------------------------------------------------------- migrations

def guard_sql(schema: str) -> list[str]:
    """The trigger that keeps `schema`.audit_log append-only (see the module docstring)."""
    return [f"""
    CREATE OR REPLACE FUNCTION "{schema}".audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        keep_days integer := NULLIF(current_setting('haolin.audit_retention_days', true), '')::integer;
    BEGIN
        IF TG_OP = 'DELETE' AND keep_days >= {MIN_RETENTION_DAYS}
           AND OLD.at < now() - make_interval(days => keep_days) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    """, f"""
    CREATE TRIGGER trg_audit_log_guard BEFORE UPDATE OR DELETE ON "{schema}".audit_log
    FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_guard()
    """]


def prune_function_sql(schema: str) -> list[str]:
    """`schema`.prune_audit_log(keep_days): the one way to delete audit rows. It runs as the schema's
    owner (SECURITY DEFINER), so the application's role, which may not DELETE from audit_log at all,
    can prune through it (ops.prune_audit), never rows younger than the retention or 183 days."""
    return [f"""
    CREATE FUNCTION "{schema}".prune_audit_log(keep_days integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        deleted bigint;
    BEGIN
        IF keep_days IS NULL OR keep_days < {MIN_RETENTION_DAYS} THEN
            RAISE EXCEPTION 'audit rows are kept at least {MIN_RETENTION_DAYS} days' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM set_config('haolin.audit_retention_days', keep_days::text, true);
        DELETE FROM "{schema}".audit_log WHERE at < now() - make_interval(days => keep_days);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        RETURN deleted;
    END $$
    """, f'REVOKE ALL ON FUNCTION "{schema}".prune_audit_log(integer) FROM PUBLIC']


def drop_prune_function(op, schema: str) -> None:
    op.execute(f'DROP FUNCTION "{schema}".prune_audit_log(integer)')


def create_audit_log(op, schema: str) -> None:
    import sqlalchemy as sa

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("operation", sa.String(80)),
        sa.Column("record_table", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("station_path", sa.String(255, collation="C")),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=schema,
    )
    op.create_index("ix_audit_log_record", "audit_log", ["record_table", "record_id", "at"], schema=schema)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id", "at"], schema=schema)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], schema=schema)
    for statement in guard_sql(schema):
        op.execute(statement)


def drop_audit_log(op, schema: str) -> None:
    op.drop_table("audit_log", schema=schema)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".audit_log_guard()')


# ---------------------------------------------------------------- who and from where

def is_root(station_path: str) -> bool:
    """The whole tree: "/" or the root station's own path ("/1/")."""
    return station_path.count("/") <= 2


def trusted_proxies(spec: str | None) -> tuple:
    return tuple(ip_network(p.strip(), strict=False) for p in (spec or "").split(",") if p.strip())


def _is_trusted(host: str | None, trusted: tuple) -> bool:
    if not host:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def client_address(scope: dict, trusted: tuple) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy (the gateway, a load
    balancer), whose X-Real-IP, else the nearest untrusted hop of X-Forwarded-For, is believed."""
    client = scope.get("client")
    peer = client[0] if client else None
    if not _is_trusted(peer, trusted):
        return peer
    real = forwarded = None
    for k, v in scope.get("headers", ()):
        if k == b"x-real-ip":
            real = v.decode("latin-1").strip()
        elif k == b"x-forwarded-for":
            forwarded = v.decode("latin-1")
    if real:
        return real[:64]
    if forwarded:
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if hop and not _is_trusted(hop, trusted):
                return hop[:64]
    return peer


def request_client(scope: dict) -> str | None:
    """The client's address as this process believes it, under its TRUSTED_PROXIES: the one rule for
    the audit log, the gateway's login limits and the address it passes on to the services."""
    state = scope["app"].state
    trusted = getattr(state, "trusted_proxies", None)
    if trusted is None:
        settings = getattr(state, "settings", None)
        trusted = state.trusted_proxies = trusted_proxies(getattr(settings, "trusted_proxies", ""))
    return client_address(scope, trusted)


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
    done: set = session.info.setdefault("audited", set())
    key = (table, record_id)
    if (key, action) in done or (action == UPDATE and (key, CREATE) in done):
        return
    done.add((key, action))
    session.add(log_model(**session_actor(session).row(), action=action, record_table=table,
                          record_id=record_id[:64], station_path=station_path))


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


# ---------------------------------------------------------------- reads, one statement per answer

def _insert_reads_sql(table) -> str:
    return (f'INSERT INTO "{table.schema}"."{table.name}" ({_LOG_COLUMNS}) '
            "SELECT $1, $2, $3, $4, $5, $6, 'read', $7, r.id, r.path "
            "FROM unnest($8::text[], $9::text[]) AS r(id, path)")


def is_child(birth_on: date | None, today: date) -> bool:
    """Under 14 on `today`."""
    if birth_on is None:
        return False
    try:
        fourteenth = birth_on.replace(year=birth_on.year + CHILD_AGE)
    except ValueError:  # born on 29 February
        fourteenth = birth_on.replace(year=birth_on.year + CHILD_AGE, day=28) + timedelta(days=1)
    return today < fourteenth


_LOG_COLUMNS = ("actor_id, actor_role, device_id, address, request_id, operation, action, record_table, record_id, "
                "station_path")


def read_actor(request: Request, principal: Principal | None = None) -> tuple:
    """The actor's six values, in the order `audited_read` takes them."""
    a = actor_of(request, principal)
    return a.user_id[:64], a.role[:16], a.device_id, a.address, a.request_id, a.operation


def audited_read(select_sql: str, log_table, record_table: str, first_param: int) -> str:
    """`select_sql` (a read of one record, with `id` and `station_path` columns) as one statement
    that also logs the read: the hot path keeps its single round trip, and a record found is a
    record logged. Parameters first_param... are `read_actor(request)`."""
    p = ", ".join(f"${first_param + i}" for i in range(6))
    return (f"WITH found AS ({select_sql}), logged AS ("
            f'INSERT INTO "{log_table.schema}"."{log_table.name}" ({_LOG_COLUMNS}) '
            f"SELECT {p}, 'read', '{record_table}', found.id, found.station_path FROM found "
            f"WHERE found.id IS NOT NULL) SELECT * FROM found")


async def log_reads(request: Request, table: str, records: list[tuple[str, str | None]],
                    principal: Principal | None = None) -> None:
    """Log that the caller (or `principal`) was shown these records (id, station path) of `table`."""
    if not records:
        return
    app = request.app
    model = app.state.audit_log
    db = app.state.db
    if db.read_pool is not None:
        await db.read_pool.execute(_insert_reads_sql(model.__table__), *read_actor(request, principal), table,
                                   [str(r[0]) for r in records], [r[1] for r in records])
        return
    who = actor_of(request, principal).row()
    async with db.engine.begin() as conn:
        await conn.execute(model.__table__.insert(), [
            {**who, "action": READ, "record_table": table, "record_id": str(r[0]), "station_path": r[1]}
            for r in records])


# ---------------------------------------------------------------- pruning

async def prune(conn, schema: str, retention_days: int) -> int:
    """Delete audit rows older than the retention (at least 183 days); answers how many.
    `conn`: an asyncpg connection, as the application's role or the owner: the deletes go through
    the schema's prune_audit_log (prune_function_sql), the only ones the trigger allows."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"AUDIT_RETENTION_DAYS must be at least {MIN_RETENTION_DAYS} (six months)")
    return int(await conn.fetchval(f'SELECT "{schema}".prune_audit_log($1)', retention_days))


# ---------------------------------------------------------------- the internal query

class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: str
    actor_role: str
    device_id: str | None = None
    address: str | None = None
    action: str
    operation: str | None = None
    record_table: str
    record_id: str
    station_path: str | None = None
    request_id: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEntry]


def internal_audit_router(log_model: type) -> APIRouter:
    """GET /internal/audit: this process's audit rows, newest first, for the gateway's /v1/audit.

    `before` and `before_id` continue a merged listing: rows strictly before (before, before_id)
    in the order (at, id) descending."""
    router = APIRouter(prefix="/internal/audit", tags=["internal"], include_in_schema=False)
    table = log_model.__table__
    columns = ", ".join(AuditEntry.model_fields)

    @router.get("", response_model=AuditPage)
    async def audit(request: Request, _: ServicePrincipalDep,
                    station_path: Annotated[str, Query(max_length=255)] = "/",
                    record_table: Annotated[str | None, Query(max_length=40)] = None,
                    record_id: Annotated[str | None, Query(max_length=64)] = None,
                    actor_id: Annotated[str | None, Query(max_length=64)] = None,
                    before: datetime | None = None,
                    before_id: Annotated[int | None, Query(ge=0)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> AuditPage:
        # Rows tied to no station (platform-wide codes, sign-ins before a station is known) are the
        # root's to read: an admin of a part of the tree reads that part only.
        where = ["(station_path LIKE $1 OR station_path IS NULL)" if is_root(station_path) else "station_path LIKE $1"]
        args: list[Any] = [station_path + "%"]
        for column, value in (("record_table", record_table), ("record_id", record_id), ("actor_id", actor_id)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if before is not None:
            args.append(before)
            args.append(before_id if before_id is not None else 0)
            where.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit)
        sql = (f'SELECT {columns} FROM "{table.schema}"."{table.name}" WHERE {" AND ".join(where)} '
               f"ORDER BY at DESC, id DESC LIMIT ${len(args)}")
        rows = await request.app.state.db.read_pool.fetch(sql, *args)
        return AuditPage(items=[AuditEntry(**dict(r)) for r in rows])

    return router


def encode_cursor(at: datetime, source: str, row_id: int) -> str:
    raw = json.dumps([at.astimezone(timezone.utc).isoformat(), source, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    at, source, row_id = json.loads(raw)
    at = datetime.fromisoformat(at)
    # Exactly as encoded: a float (1e400 is infinity) or a string is a forged cursor.
    if at.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id < 2**63:
        raise ValueError("not a cursor")
    return at, str(source), row_id

