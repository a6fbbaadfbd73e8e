"""cases: the distinct-persons rollup (person_day), backfilled from the service records

Revision ID: cases_0004
Revises: cases_0003
Create Date: 2026-11-21
"""
from migrations.common import create_person_day, drop_person_day

revision = "cases_0004"
down_revision = "cases_0003"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    create_person_day(SCHEMA, backfill=f"""
        SELECT station_id, station_path, served_on AS day, beneficiary_id AS person_id, populations
        FROM {SCHEMA}.service_record WHERE deleted_at IS NULL""")


def downgrade() -> None:
    drop_person_day(SCHEMA)
