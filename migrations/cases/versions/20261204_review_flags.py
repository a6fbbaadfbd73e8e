"""review flags: the soft (data-quality) rules a tablet's record broke, kept for a person to review

Revision ID: cases_0006
Revises: cases_0005
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "cases_0006"
down_revision = "cases_0005"
branch_labels = None
depends_on = None

SCHEMA = "cases"
TABLES = ("beneficiary", "service_record", "referral")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("review", JSONB(), nullable=True), schema=SCHEMA)
        # Partial: only records under review, read by the station's review list.
        op.create_index(f"ix_{table}_review", table, ["station_path"], schema=SCHEMA,
                        postgresql_where=sa.text("review IS NOT NULL AND deleted_at IS NULL"))


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_review", table_name=table, schema=SCHEMA)
        op.drop_column(table, "review", schema=SCHEMA)
