"""cases: audit rows are pruned through a function of the owner, so the application's role needs no DELETE"""
from alembic import op

from migrations.common import bound, create_prune_function
from shared.audit.ddl import drop_prune_function

revision = "cases_0009"
down_revision = "cases_0008"

upgrade = bound(create_prune_function, "cases")
downgrade = bound(drop_prune_function, op, "cases")
