"""gateway: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from functools import partial

from migrations.common import create_idempotency_table, drop_idempotency_table

revision = "gateway_0004"
down_revision = "gateway_0003"

upgrade = partial(create_idempotency_table, "gateway")
downgrade = partial(drop_idempotency_table, "gateway")
