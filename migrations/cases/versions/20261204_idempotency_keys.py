"""cases: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries

Revision ID: cases_0008
Revises: cases_0007
Create Date: 2026-12-01
"""
from alembic import op

from migrations.common import create_idempotency_table

revision = "cases_0008"
down_revision = "cases_0007"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("idempotency_key", schema=SCHEMA)
