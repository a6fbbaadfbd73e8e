"""cases: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from functools import partial

from migrations.common import create_idempotency_table, drop_idempotency_table

revision = "cases_0008"
down_revision = "cases_0007"

upgrade = partial(create_idempotency_table, "cases")
downgrade = partial(drop_idempotency_table, "cases")
