"""volunteers: the append-only audit log"""
from alembic import op

from migrations.common import bound
from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "volunteers_0003"
down_revision = "volunteers_0002"

upgrade = bound(create_audit_log, op, "volunteers")
downgrade = bound(drop_audit_log, op, "volunteers")
