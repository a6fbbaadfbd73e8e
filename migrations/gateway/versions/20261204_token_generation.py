"""gateway: a token generation per account, and a notification on every change a token must follow

Revision ID: gateway_0006
Revises: gateway_0005
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from migrations.common import create_id_notify, drop_id_notify

revision = "gateway_0006"
down_revision = "gateway_0005"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
# gateway.identity.live.ACCOUNT_CHANNEL: every gateway process drops its cached copy of the account.
CHANNEL = "haolin_account"
WATCHED = "token_generation, disabled_at, role, station_id, display_name"


def upgrade() -> None:
    op.add_column("user", sa.Column("token_generation", sa.Integer, server_default=sa.text("1"), nullable=False),
                  schema=SCHEMA)
    create_id_notify(SCHEMA, "user", "notify_account_change", CHANNEL, WATCHED)


def downgrade() -> None:
    drop_id_notify(SCHEMA, "user", "notify_account_change")
    op.drop_column("user", "token_generation", schema=SCHEMA)
