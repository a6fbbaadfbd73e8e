"""gateway: failed logins slow down per (account, address) instead of locking the account

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-04

The account lock (user.lock_count, user.locked_until) goes: anyone could lock anyone out with it.
Its state means nothing once the throttle replaces it, so a downgrade brings the columns back empty.
"""
import sqlalchemy as sa
from alembic import op

revision = "gateway_0007"
down_revision = "gateway_0006"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "address", name="pk_login_throttle"),
        schema=SCHEMA,
    )
    op.create_index("ix_login_throttle_last_failed_at", "login_throttle", ["last_failed_at"], schema=SCHEMA)
    op.drop_column("user", "locked_until", schema=SCHEMA)
    op.drop_column("user", "lock_count", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("user", sa.Column("lock_count", sa.SmallInteger, server_default=sa.text("0"), nullable=False),
                  schema=SCHEMA)
    op.add_column("user", sa.Column("locked_until", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.drop_index("ix_login_throttle_last_failed_at", "login_throttle", schema=SCHEMA)
    op.drop_table("login_throttle", schema=SCHEMA)
