"""projects: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries

Revision ID: projects_0006
Revises: projects_0005
Create Date: 2026-12-01
"""
from alembic import op

from migrations.common import create_idempotency_table

revision = "projects_0006"
down_revision = "projects_0005"
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("idempotency_key", schema=SCHEMA)
