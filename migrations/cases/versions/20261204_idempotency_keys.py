"""cases: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from migrations.common import bound, create_idempotency_table, drop_idempotency_table

revision = "cases_0008"
down_revision = "cases_0007"

upgrade = bound(create_idempotency_table, "cases")
downgrade = bound(drop_idempotency_table, "cases")
