"""gateway: station tablets (devices) and the sync cursors their pulls were given

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "gateway_0002"
down_revision = "gateway_0001"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", sa.String(64)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", sa.String(64)),
        sa.Column("last_sync_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
        sa.ForeignKeyConstraint(["station_id"], [f"{SCHEMA}.station.id"], name="fk_device_station_id_station"),
        schema=SCHEMA,
    )
    op.create_index("ix_device_station_id", "device", ["station_id"], schema=SCHEMA)
    op.create_table(
        "sync_cursor",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("device_id", sa.BigInteger, nullable=False),
        sa.Column("cursors", JSONB, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_sync_cursor"),
        sa.ForeignKeyConstraint(["device_id"], [f"{SCHEMA}.device.id"], name="fk_sync_cursor_device_id_device",
                                ondelete="CASCADE"),
        schema=SCHEMA,
    )
    op.create_index("ix_sync_cursor_device_id", "sync_cursor", ["device_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("sync_cursor", schema=SCHEMA)
    op.drop_table("device", schema=SCHEMA)
