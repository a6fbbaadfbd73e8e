"""projects: session and activity notes sealed; the append-only audit log

Revision ID: projects_0004
Revises: projects_0003
Create Date: 2026-11-22
"""
from alembic import op

from migrations.sealing import seal, unseal
from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "projects_0004"
down_revision = "projects_0003"
branch_labels = None
depends_on = None

SCHEMA = "projects"
# Both already text: sealing rewrites the values only.
SEALED = [("group_session", "notes"), ("activity", "notes")]


def upgrade() -> None:
    for table, column in SEALED:
        seal(SCHEMA, table, column)
    create_audit_log(op, SCHEMA)


def downgrade() -> None:
    drop_audit_log(op, SCHEMA)
    for table, column in SEALED:
        unseal(SCHEMA, table, column)
