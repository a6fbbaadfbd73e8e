"""cases: audit rows are pruned through a function of the owner, so the application's role needs no DELETE"""
from functools import partial

from alembic import op

from migrations.common import create_prune_function
from shared.audit.ddl import drop_prune_function

revision = "cases_0009"
down_revision = "cases_0008"

upgrade = partial(create_prune_function, "cases")
downgrade = partial(drop_prune_function, op, "cases")
