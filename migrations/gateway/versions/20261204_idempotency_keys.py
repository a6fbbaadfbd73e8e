"""gateway: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries

Revision ID: gateway_0004
Revises: gateway_0003
Create Date: 2026-12-01
"""
from alembic import op

from migrations.common import create_idempotency_table

revision = "gateway_0004"
down_revision = "gateway_0003"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("idempotency_key", schema=SCHEMA)
