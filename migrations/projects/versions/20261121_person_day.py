"""projects: the distinct-persons rollup (person_day), backfilled from named attendance

Revision ID: projects_0003
Revises: projects_0002
Create Date: 2026-11-21
"""
from migrations.common import create_person_day, drop_person_day

revision = "projects_0003"
down_revision = "projects_0002"
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    # An attendee counts on the day of the session or activity, at its station.
    create_person_day(SCHEMA, backfill=f"""
        SELECT o.station_id, o.station_path, o.held_on AS day, a.beneficiary_id AS person_id, a.populations
        FROM {SCHEMA}.attendance a
        JOIN (SELECT id, NULL AS activity_id, station_id, station_path, held_on, deleted_at FROM {SCHEMA}.group_session
              UNION ALL
              SELECT NULL, id, station_id, station_path, held_on, deleted_at FROM {SCHEMA}.activity) o
          ON o.id = a.session_id OR o.activity_id = a.activity_id
        WHERE a.deleted_at IS NULL AND o.deleted_at IS NULL""")


def downgrade() -> None:
    drop_person_day(SCHEMA)
