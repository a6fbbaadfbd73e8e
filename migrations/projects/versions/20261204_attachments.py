"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)

Revision ID: projects_0008
Revises: projects_0007
Create Date: 2026-12-04
"""
from alembic import op

from migrations.common import create_attachment_table

revision = "projects_0008"
down_revision = "projects_0007"
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    create_attachment_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("attachment", schema=SCHEMA)
