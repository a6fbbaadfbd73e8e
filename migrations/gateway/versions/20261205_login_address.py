"""gateway: login attempts per client address in the database, so every worker and replica shares them

Revision ID: gateway_0009
Revises: gateway_0008
Create Date: 2026-12-05

One row per address: the times of its attempts within the last minute (at most the limit's
number), and the newest, by which idle rows are dropped.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "gateway_0009"
down_revision = "gateway_0008"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "login_address",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("attempts", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_login_address"),
        schema=SCHEMA,
    )
    op.create_index("ix_login_address_last_at", "login_address", ["last_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_login_address_last_at", "login_address", schema=SCHEMA)
    op.drop_table("login_address", schema=SCHEMA)
