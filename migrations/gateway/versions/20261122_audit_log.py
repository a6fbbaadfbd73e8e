"""gateway: the append-only audit log (logins, users, devices, stations)"""
from alembic import op

from migrations.common import bound
from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "gateway_0003"
down_revision = "gateway_0002"

upgrade = bound(create_audit_log, op, "gateway")
downgrade = bound(drop_audit_log, op, "gateway")
