"""projects: audit rows are pruned through a function of the owner, so the application's role needs no DELETE

Revision ID: projects_0007
Revises: projects_0006
Create Date: 2026-12-04
"""
from alembic import op

from shared.audit.ddl import drop_prune_function, prune_function_sql

revision = "projects_0007"
down_revision = "projects_0006"
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    for statement in prune_function_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    drop_prune_function(op, SCHEMA)
