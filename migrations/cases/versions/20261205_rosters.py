"""civil-affairs rosters: imports, members, and where a beneficiary's registration came from

Revision ID: cases_0013
Revises: cases_0012
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations.common import create_record_table, foreign_key

revision = "cases_0013"
down_revision = "cases_0012"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    # Everyone registered so far was registered by a worker: the default fills existing rows.
    op.add_column("beneficiary", sa.Column("source", sa.String(16), server_default=sa.text("'direct'"),
                                           nullable=False), schema=SCHEMA)
    create_record_table(
        SCHEMA, "roster_import",
        sa.Column("listed_on", sa.Date, nullable=False),
        sa.Column("file_name", sa.String(200)),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("registered", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("left", sa.Integer, nullable=False),
    )
    create_record_table(
        SCHEMA, "roster_member",
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("village", sa.String(100)),
        sa.Column("joined_on", sa.Date, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("import_id", sa.String(64)),
        foreign_key(SCHEMA, "roster_member", "beneficiary_id", "beneficiary"),
        indexes=("beneficiary_id",),
    )
    op.create_index("uq_roster_member_beneficiary_population", "roster_member", ["beneficiary_id", "population"],
                    unique=True, schema=SCHEMA, postgresql_where=sa.text("deleted_at IS NULL"))


def downgrade() -> None:
    op.drop_table("roster_member", schema=SCHEMA)
    op.drop_table("roster_import", schema=SCHEMA)
    op.drop_column("beneficiary", "source", schema=SCHEMA)
