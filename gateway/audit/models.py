"""The gateway's audit table, in the `gateway` schema, and the writes it logs (shared.audit)."""

from gateway.models import Base, Device, Station, User
from shared.audit import audit_log_model, track

AuditLog = audit_log_model(Base)

# A login's counters and stamps, a device's last sync: bookkeeping, not a change anyone made.
track(AuditLog, User, station_path=lambda u: None,
      ignored=frozenset({"failed_logins", "lock_count", "locked_until", "last_login_at"}))
track(AuditLog, Station, station_path=lambda s: s.path)
track(AuditLog, Device, station_path=lambda d: None, ignored=frozenset({"last_sync_at"}))
