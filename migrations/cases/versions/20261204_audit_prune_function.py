"""cases: audit rows are pruned through a function of the owner, so the application's role needs no DELETE

Revision ID: cases_0009
Revises: cases_0008
Create Date: 2026-12-04
"""
from alembic import op

from shared.audit.ddl import drop_prune_function, prune_function_sql

revision = "cases_0009"
down_revision = "cases_0008"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    for statement in prune_function_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    drop_prune_function(op, SCHEMA)
