"""gateway: the append-only audit log (logins, users, devices, stations)"""
from functools import partial

from alembic import op

from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "gateway_0003"
down_revision = "gateway_0002"

upgrade = partial(create_audit_log, op, "gateway")
downgrade = partial(drop_audit_log, op, "gateway")
