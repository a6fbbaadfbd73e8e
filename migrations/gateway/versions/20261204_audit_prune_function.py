"""gateway: audit rows are pruned through a function of the owner, so the application's role needs no DELETE

Revision ID: gateway_0008
Revises: gateway_0007
Create Date: 2026-12-04
"""
from alembic import op

from shared.audit.ddl import drop_prune_function, prune_function_sql

revision = "gateway_0008"
down_revision = "gateway_0007"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    for statement in prune_function_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    drop_prune_function(op, SCHEMA)
