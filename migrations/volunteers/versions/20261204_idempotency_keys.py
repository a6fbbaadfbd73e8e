"""volunteers: the answers of creates sent with an Idempotency-Key, kept 24 hours for retries"""
from functools import partial

from migrations.common import create_idempotency_table, drop_idempotency_table

revision = "volunteers_0006"
down_revision = "volunteers_0005"

upgrade = partial(create_idempotency_table, "volunteers")
downgrade = partial(drop_idempotency_table, "volunteers")
