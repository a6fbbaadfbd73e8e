"""Tables of the gateway, in the `gateway` schema: the station tree, users, refresh tokens, devices, sync
cursors and the gateway's audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, DateTime, ForeignKey, Identity, Index, Integer, LargeBinary, Sequence, String, func,
                        text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit.listener import track
from shared.audit.model import audit_log_model
from shared.idempotency import idempotency_model
from shared.models import PathType, make_base

Base = make_base("gateway")

# Bumped on every station change; services keep the highest they applied as their cursor.
# Station writes hold the tree lock (gateway.identity.repository.stations.lock_tree) while
# they draw from it, so numbers are handed out in commit order and a cursor never skips one.
station_change_seq = Sequence("station_change_seq", schema="gateway", metadata=Base.metadata)


class Station(Base):
    __tablename__ = "station"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("station.id"), index=True)
    # "/<root id>/.../<own id>/"
    path: Mapped[str] = mapped_column(PathType, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # Administrative division code (行政区划代码), 6 to 12 digits.
    code: Mapped[str | None] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default=station_change_seq.next_value(), unique=True)


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    # Unique case-insensitively (index on lower(username) in the migration).
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    station_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("station.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Failed logins, from any address, since the last successful one: told to the owner at the next.
    failed_logins: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # In every access token (`gen`); bumped by whatever must end the tokens issued so far: disabling,
    # a new role or station, a new password, a move of the station or of one above it. The gateway
    # refuses a token of another generation (gateway/identity/live.py).
    token_generation: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """Opaque refresh tokens, stored as sha256 digests; a login starts a family, each refresh
    rotates within it, and presenting a revoked member revokes the whole family."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed logins of one account name from one client address (gateway/identity/throttle.py).
    Kept for unknown names too, so an unknown account slows down exactly like a real one; the
    name is stored as a digest, since people sometimes type their password into it."""

    __tablename__ = "login_throttle"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    retry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginAddress(Base):
    """Login attempts from one client address within the last minute (gateway/identity/service/auth.py,
    `count_address_attempt`): in the database, so that every worker and replica counts the same ones."""

    __tablename__ = "login_address"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[list[datetime]] = mapped_column(ARRAY(DateTime(timezone=True)))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class StatsAnswer(Base):
    """A dashboard answer while it is fresh, for every gateway worker and replica (gateway/stats/shared.py):
    identical polls reaching different workers cost the services one computation. UNLOGGED (its migration)."""

    __tablename__ = "stats_answer"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the answer cache's key
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(100))
    fresh_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Device(Base):
    """A station tablet: registered to a station by an admin or its station head, it syncs that
    station's subtree with a credential of its own (stored as a sha256 digest), until revoked."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("station.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # A tablet's name is its natural key within its station while it is live: a registration sent
    # twice (an answer lost) is refused instead of making a second tablet with the same name.
    __table_args__ = (Index("uq_device_live_name", "station_id", "name", unique=True,
                            postgresql_where=text("revoked_at IS NULL")),)


class SyncCursor(Base):
    """The `timestamp` a tablet gets from a pull: its id, standing for each service's own cursor
    (`cursors`: service -> xid8 text) at that pull. Services may sit on different databases."""

    __tablename__ = "sync_cursor"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    device_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("device.id", ondelete="CASCADE"), index=True)
    cursors: Mapped[dict] = mapped_column(JSONB)
    schema_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Logins, and every write of users, stations and devices (shared.audit); its query: gateway/audit/.
AuditLog = audit_log_model(Base)
IdempotentAnswer = idempotency_model(Base)
# A login's counters and stamps, a device's last sync: bookkeeping, not a change anyone made.
track(AuditLog, User, station_path=lambda u: None,
      ignored=frozenset({"failed_logins", "last_login_at", "token_generation"}))
track(AuditLog, Station, station_path=lambda s: s.path)
track(AuditLog, Device, station_path=lambda d: None, ignored=frozenset({"last_sync_at"}))
