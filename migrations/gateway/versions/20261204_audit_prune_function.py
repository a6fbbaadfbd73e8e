"""gateway: audit rows are pruned through a function of the owner, so the application's role needs no DELETE"""
from alembic import op

from migrations.common import bound, create_prune_function
from shared.audit.ddl import drop_prune_function

revision = "gateway_0008"
down_revision = "gateway_0007"

upgrade = bound(create_prune_function, "gateway")
downgrade = bound(drop_prune_function, op, "gateway")
