"""volunteers: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries

Revision ID: volunteers_0006
Revises: volunteers_0005
Create Date: 2026-12-01
"""
from alembic import op

from migrations.common import create_idempotency_table

revision = "volunteers_0006"
down_revision = "volunteers_0005"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("idempotency_key", schema=SCHEMA)
