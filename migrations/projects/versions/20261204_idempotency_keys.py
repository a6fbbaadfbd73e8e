"""projects: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from functools import partial

from migrations.common import create_idempotency_table, drop_idempotency_table

revision = "projects_0006"
down_revision = "projects_0005"

upgrade = partial(create_idempotency_table, "projects")
downgrade = partial(drop_idempotency_table, "projects")
