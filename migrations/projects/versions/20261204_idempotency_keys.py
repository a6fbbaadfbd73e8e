"""projects: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from migrations.common import bound, create_idempotency_table, drop_idempotency_table

revision = "projects_0006"
down_revision = "projects_0005"

upgrade = bound(create_idempotency_table, "projects")
downgrade = bound(drop_idempotency_table, "projects")
