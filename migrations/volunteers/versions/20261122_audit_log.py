"""volunteers: the append-only audit log"""
from functools import partial

from alembic import op

from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "volunteers_0003"
down_revision = "volunteers_0002"

upgrade = partial(create_audit_log, op, "volunteers")
downgrade = partial(drop_audit_log, op, "volunteers")
