"""gateway: dashboard answers shared by every gateway worker and replica while they are fresh

Revision ID: gateway_0010
Revises: gateway_0009
Create Date: 2026-12-05

UNLOGGED: a cache, rebuilt by the next poll; not worth a write-ahead log entry per answer, and
nothing a standby or a crash recovery needs.
"""
import sqlalchemy as sa
from alembic import op

revision = "gateway_0010"
down_revision = "gateway_0009"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "stats_answer",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String(100), nullable=False),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_stats_answer"),
        schema=SCHEMA,
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_stats_answer_fresh_until", "stats_answer", ["fresh_until"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_stats_answer_fresh_until", "stats_answer", schema=SCHEMA)
    op.drop_table("stats_answer", schema=SCHEMA)
