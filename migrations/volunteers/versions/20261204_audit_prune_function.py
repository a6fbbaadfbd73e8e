"""volunteers: audit rows are pruned through a function of the owner, so the application's role needs no DELETE

Revision ID: volunteers_0007
Revises: volunteers_0006
Create Date: 2026-12-04
"""
from alembic import op

from shared.audit.ddl import drop_prune_function, prune_function_sql

revision = "volunteers_0007"
down_revision = "volunteers_0006"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"


def upgrade() -> None:
    for statement in prune_function_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    drop_prune_function(op, SCHEMA)
