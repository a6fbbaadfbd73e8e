"""The audit log: who did what to which record, when, and from which address or device.

Each process keeps its own `audit_log` table in its own schema (`model.audit_log_model(Base)`), and
the gateway answers an administrator's questions by asking every process (`/internal/audit`,
shared/contracts/audit/), never by reading their tables.

- model.py: the table;
- ddl.py: what the migrations run to make it and keep it append-only (guard and prune function);
- listener.py: who acts (`actor_of`), and writes logged in the transaction that makes them;
- reads.py: reads of sensitive records, logged before the answer goes out;
- prune.py: deleting rows past the retention (ops.prune_audit).

The names most callers need are importable from here.
"""

from shared.audit.listener import SYSTEM, Actor, actor_of, log_event, log_write, log_writes_raw, session_actor, track
from shared.audit.model import CREATE, DELETE, MIN_RETENTION_DAYS, READ, UPDATE, audit_log_model
from shared.audit.prune import prune
from shared.audit.reads import audited_read, log_reads, read_actor

__all__ = ["CREATE", "DELETE", "MIN_RETENTION_DAYS", "READ", "SYSTEM", "UPDATE", "Actor", "actor_of",
           "audit_log_model", "audited_read", "log_event", "log_reads", "log_write", "log_writes_raw", "prune",
           "read_actor", "session_actor", "track"]
