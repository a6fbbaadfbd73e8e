"""volunteers: the append-only audit log

Revision ID: volunteers_0003
Revises: volunteers_0002
Create Date: 2026-11-22
"""
from alembic import op

from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "volunteers_0003"
down_revision = "volunteers_0002"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    create_audit_log(op, SCHEMA)


def downgrade() -> None:
    drop_audit_log(op, SCHEMA)
