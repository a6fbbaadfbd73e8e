"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)

Revision ID: cases_0010
Revises: cases_0009
Create Date: 2026-12-04
"""
from alembic import op

from migrations.common import create_attachment_table

revision = "cases_0010"
down_revision = "cases_0009"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    create_attachment_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("attachment", schema=SCHEMA)
