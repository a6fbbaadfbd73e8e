"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)

Revision ID: volunteers_0008
Revises: volunteers_0007
Create Date: 2026-12-04
"""
from alembic import op

from migrations.common import create_attachment_table

revision = "volunteers_0008"
down_revision = "volunteers_0007"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    create_attachment_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("attachment", schema=SCHEMA)
