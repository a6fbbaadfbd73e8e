"""gateway: a notification on every change of a station that a scope check reads

Revision ID: gateway_0011
Revises: gateway_0010
Create Date: 2026-12-06

Every dashboard poll checks the station it asks about against the caller's subtree before the
answer cache is consulted. gateway.identity.live.LiveStations keeps the stations in each process
and drops one when this trigger names it: a move (its path and its subtree's paths), a rename, a
removal. A TRUNCATE drops everything.
"""
from alembic import op

revision = "gateway_0011"
down_revision = "gateway_0010"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
# gateway.identity.live.STATION_CHANNEL
CHANNEL = "haolin_station"
WATCHED = "parent_id, path, kind, name, code, deleted_at"


def upgrade() -> None:
    op.execute(f"""
    CREATE FUNCTION "{SCHEMA}".notify_station_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    # INSERT too: a process that was asked about an id before the station existed keeps no "no such station".
    op.execute(f'CREATE TRIGGER trg_station_notify AFTER INSERT OR UPDATE OF {WATCHED} OR DELETE '
               f'ON "{SCHEMA}"."station" FOR EACH ROW EXECUTE FUNCTION "{SCHEMA}".notify_station_change()')
    op.execute(f'CREATE TRIGGER trg_station_notify_truncate AFTER TRUNCATE ON "{SCHEMA}"."station" '
               f'FOR EACH STATEMENT EXECUTE FUNCTION "{SCHEMA}".notify_station_change()')


def downgrade() -> None:
    op.execute(f'DROP TRIGGER trg_station_notify_truncate ON "{SCHEMA}"."station"')
    op.execute(f'DROP TRIGGER trg_station_notify ON "{SCHEMA}"."station"')
    op.execute(f'DROP FUNCTION "{SCHEMA}".notify_station_change()')
