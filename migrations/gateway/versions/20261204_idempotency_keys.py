"""gateway: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from migrations.common import bound, create_idempotency_table, drop_idempotency_table

revision = "gateway_0004"
down_revision = "gateway_0003"

upgrade = bound(create_idempotency_table, "gateway")
downgrade = bound(drop_idempotency_table, "gateway")
