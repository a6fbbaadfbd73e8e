"""visits (探访): a light record of a visit to a person, outside any case

Revision ID: cases_0012
Revises: cases_0011
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations.common import create_record_table, foreign_key

revision = "cases_0012"
down_revision = "cases_0011"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    # A new table: nothing to backfill on an existing database.
    create_record_table(
        SCHEMA, "visit",
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("visited_on", sa.Date, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("health", sa.Text),
        sa.Column("safety", sa.Text),
        sa.Column("living", sa.Text),
        sa.Column("needs", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("follow_up", sa.Boolean, server_default=sa.text("false"), nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("create_digest", sa.String(64)),
        foreign_key(SCHEMA, "visit", "beneficiary_id", "beneficiary"),
        foreign_key(SCHEMA, "visit", "case_id", "case"),
        indexes=("worker_id",),
    )
    op.create_index("ix_visit_beneficiary_id_visited_on", "visit", ["beneficiary_id", "visited_on"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("visit", schema=SCHEMA)
