"""review flags: the soft (data-quality) rules a tablet's record broke, kept for a person to review

Revision ID: volunteers_0005
Revises: volunteers_0004
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "volunteers_0005"
down_revision = "volunteers_0004"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    op.add_column("service_hours", sa.Column("review", JSONB(), nullable=True), schema=SCHEMA)
    # Partial: only records under review, read by the station's review list.
    op.create_index("ix_service_hours_review", "service_hours", ["station_path"], schema=SCHEMA,
                    postgresql_where=sa.text("review IS NOT NULL AND deleted_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_service_hours_review", table_name="service_hours", schema=SCHEMA)
    op.drop_column("service_hours", "review", schema=SCHEMA)
