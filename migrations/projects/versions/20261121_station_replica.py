"""projects schema: station tree replica and the sync-marker trigger function

Revision ID: projects_0001
Revises:
Create Date: 2026-11-21
"""
from migrations.common import create_station_replica, drop_station_replica

revision = "projects_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    create_station_replica(SCHEMA)


def downgrade() -> None:
    drop_station_replica(SCHEMA)
