"""cases: indexes for figures over many stations (a province's month), read index only

Revision ID: cases_0018
Revises: cases_0017
Create Date: 2026-12-06

Who served (stations.active, staff.active_workers) and who was served (persons), for a range of
days across the subtree: before, a province's month scanned every service record.
Built with the table locked against writes (docs/operations.md, "Upgrading a large database").
"""
from migrations.common import create_indexes, drop_indexes

revision = "cases_0018"
down_revision = "cases_0017"
branch_labels = None
depends_on = None

SCHEMA = "cases"
INDEXES = [
    ("ix_service_record_served", "service_record", ["served_on", "station_path"], ["station_id", "worker_id"],
     "deleted_at IS NULL"),
    ("ix_person_day_population_day", "person_day", ["population", "day", "station_path"], ["person"], None),
]


def upgrade() -> None:
    create_indexes(SCHEMA, INDEXES)


def downgrade() -> None:
    drop_indexes(SCHEMA, INDEXES)
