"""gateway: a token generation per account, and a notification on every change a token must follow

Revision ID: gateway_0006
Revises: gateway_0005
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

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
    op.execute(f"""
    CREATE FUNCTION "{SCHEMA}".notify_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            PERFORM pg_notify('{CHANNEL}', '');
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('{CHANNEL}', OLD.id::text);
        ELSE
            PERFORM pg_notify('{CHANNEL}', NEW.id::text);
        END IF;
        RETURN NULL;
    END $$;
    """)
    # INSERT too: a process that was shown a token of an id before the account existed keeps no "no such account".
    op.execute(f'CREATE TRIGGER trg_user_notify AFTER INSERT OR UPDATE OF {WATCHED} OR DELETE ON "{SCHEMA}"."user" '
               f'FOR EACH ROW EXECUTE FUNCTION "{SCHEMA}".notify_account_change()')
    op.execute(f'CREATE TRIGGER trg_user_notify_truncate AFTER TRUNCATE ON "{SCHEMA}"."user" '
               f'FOR EACH STATEMENT EXECUTE FUNCTION "{SCHEMA}".notify_account_change()')


def downgrade() -> None:
    op.execute(f'DROP TRIGGER trg_user_notify_truncate ON "{SCHEMA}"."user"')
    op.execute(f'DROP TRIGGER trg_user_notify ON "{SCHEMA}"."user"')
    op.execute(f'DROP FUNCTION "{SCHEMA}".notify_account_change()')
    op.drop_column("user", "token_generation", schema=SCHEMA)
