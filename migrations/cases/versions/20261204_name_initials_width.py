"""name_initials holds what the pinyin keys of any valid name come to (twice the name's 100)

Revision ID: cases_0007
Revises: cases_0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "cases_0007"
down_revision = "cases_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Widening a varchar rewrites nothing: a catalog change only.
    op.alter_column("beneficiary", "name_initials", schema="cases", type_=sa.String(200, collation="C"),
                    existing_type=sa.String(100, collation="C"), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("beneficiary", "name_initials", schema="cases", type_=sa.String(100, collation="C"),
                    existing_type=sa.String(200, collation="C"), existing_nullable=False,
                    postgresql_using="left(name_initials, 100)")
