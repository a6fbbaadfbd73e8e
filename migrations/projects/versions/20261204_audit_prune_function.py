"""projects: audit rows are pruned through a function of the owner, so the application's role needs no DELETE"""
from alembic import op

from migrations.common import bound, create_prune_function
from shared.audit.ddl import drop_prune_function

revision = "projects_0007"
down_revision = "projects_0006"

upgrade = bound(create_prune_function, "projects")
downgrade = bound(drop_prune_function, op, "projects")
