"""volunteers schema: station tree replica and the sync-marker trigger function

Revision ID: volunteers_0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

from migrations.common import create_sync_marker_function

revision = "volunteers_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    op.execute(create_sync_marker_function(SCHEMA))
    op.create_table(
        "station",
        sa.Column("id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.BigInteger),
        sa.Column("path", sa.String(255, collation="C"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station"),
        sa.UniqueConstraint("path", name="uq_station_path"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("station", schema=SCHEMA)
    op.execute(f'DROP FUNCTION IF EXISTS "{SCHEMA}".touch_change_xid()')
