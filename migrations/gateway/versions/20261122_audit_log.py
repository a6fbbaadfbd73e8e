"""gateway: the append-only audit log (logins, users, devices, stations)

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-11-22
"""
from alembic import op

from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    create_audit_log(op, SCHEMA)


def downgrade() -> None:
    drop_audit_log(op, SCHEMA)
