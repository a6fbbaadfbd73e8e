"""gateway: a live tablet's name is unique within its station (a retried registration is refused)

Live tablets of one station that already share a name keep their credentials; all but the first
registered get their id appended to the name ("和平社区平板 #7"), so staff can tell them apart
and revoke the one that was never set up.

Revision ID: gateway_0005
Revises: gateway_0004
Create Date: 2026-12-01
"""
from alembic import op
from sqlalchemy import text

revision = "gateway_0005"
down_revision = "gateway_0004"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.execute(f"""
        UPDATE {SCHEMA}.device d SET name = left(d.name, 180) || ' #' || d.id
        WHERE d.revoked_at IS NULL AND EXISTS (
            SELECT 1 FROM {SCHEMA}.device o
            WHERE o.station_id = d.station_id AND o.name = d.name AND o.revoked_at IS NULL AND o.id < d.id)""")
    op.create_index("uq_device_live_name", "device", ["station_id", "name"], unique=True, schema=SCHEMA,
                    postgresql_where=text("revoked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_device_live_name", table_name="device", schema=SCHEMA)
