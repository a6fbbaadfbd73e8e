"""projects: indexes for figures over many stations (a province's month), read index only

Revision ID: projects_0011
Revises: projects_0010
Create Date: 2026-12-06

Who served (stations.active, staff.active_workers) and who was served (persons), for a range of
days across the subtree: before, a province's month scanned every session and activity.
Built with the table locked against writes (docs/operations.md, "Upgrading a large database").
"""
from migrations.common import create_indexes, drop_indexes

revision = "projects_0011"
down_revision = "projects_0010"
branch_labels = None
depends_on = None

SCHEMA = "projects"
INDEXES = [
    ("ix_group_session_served", "group_session", ["held_on", "station_path"], ["station_id", "created_by"],
     "deleted_at IS NULL"),
    ("ix_activity_served", "activity", ["held_on", "station_path"], ["station_id", "created_by"], "deleted_at IS NULL"),
    ("ix_person_day_population_day", "person_day", ["population", "day", "station_path"], ["person"], None),
]


def upgrade() -> None:
    create_indexes(SCHEMA, INDEXES)


def downgrade() -> None:
    drop_indexes(SCHEMA, INDEXES)
