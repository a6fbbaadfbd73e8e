"""index cases by project, for a project's casework figures (POST /internal/project-stats)

Revision ID: cases_0003
Revises: cases_0002
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "cases_0003"
down_revision = "cases_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: most cases belong to no project, and deleted ones never count.
    op.create_index("ix_case_project_id", "case", ["project_id"], schema="cases",
                    postgresql_where=sa.text("project_id IS NOT NULL AND deleted_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_case_project_id", table_name="case", schema="cases")
