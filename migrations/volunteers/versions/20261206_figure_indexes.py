"""volunteers: indexes for figures over many stations (a province's month), read index only

Revision ID: volunteers_0010
Revises: volunteers_0009
Create Date: 2026-12-06

Active volunteers over a range of days across the subtree.
Built with the table locked against writes (docs/operations.md, "Upgrading a large database").
"""
from migrations.common import create_indexes, drop_indexes

revision = "volunteers_0010"
down_revision = "volunteers_0009"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"
INDEXES = [
    ("ix_served_day_day_path", "served_day", ["day", "station_path"], ["volunteer_id"], None),
]


def upgrade() -> None:
    create_indexes(SCHEMA, INDEXES)


def downgrade() -> None:
    drop_indexes(SCHEMA, INDEXES)
