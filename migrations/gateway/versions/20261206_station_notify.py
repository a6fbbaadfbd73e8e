"""gateway: a notification on every change of a station that a scope check reads

Revision ID: gateway_0011
Revises: gateway_0010
Create Date: 2026-12-06

Every dashboard poll checks the station it asks about against the caller's subtree before the
answer cache is consulted. gateway.identity.live.LiveStations keeps the stations in each process
and drops one when this trigger names it: a move (its path and its subtree's paths), a rename, a
removal. A TRUNCATE drops everything.
"""
from migrations.common import create_id_notify, drop_id_notify

revision = "gateway_0011"
down_revision = "gateway_0010"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
# gateway.identity.live.STATION_CHANNEL
CHANNEL = "haolin_station"
WATCHED = "parent_id, path, kind, name, code, deleted_at"


def upgrade() -> None:
    create_id_notify(SCHEMA, "station", "notify_station_change", CHANNEL, WATCHED)


def downgrade() -> None:
    drop_id_notify(SCHEMA, "station", "notify_station_change")
