"""projects: attendance carries the attendee's person number, and person_day is keyed by it

Revision ID: projects_0009
Revises: projects_0008
Create Date: 2026-12-05

The numbers are the cases service's (its beneficiary.person_no), which this lineage cannot read:
each lineage may live in its own database. Rows already there are numbered after every lineage is
at head, by ops/migrate.py (`number_attendance`), which holds every lineage's URL; until then they
do not count in persons.
"""
from alembic import op

from migrations.common import fill_person_day_sql

revision = "projects_0009"
down_revision = "projects_0008"
branch_labels = None
depends_on = None

SCHEMA = "projects"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {SCHEMA}.attendance ADD COLUMN person_no integer")
    op.execute(f"CREATE INDEX ix_attendance_unnumbered ON {SCHEMA}.attendance (beneficiary_id) "
               "WHERE person_no IS NULL")
    # person_day's md5 keys cannot be turned into numbers: emptied, and refilled as attendance is numbered.
    op.execute(f"DELETE FROM {SCHEMA}.person_day")
    op.execute(f"ALTER TABLE {SCHEMA}.person_day ALTER COLUMN person TYPE integer")


def downgrade() -> None:
    from migrations.common import MD5_PERSON_KEY_SQL

    op.execute(f"DELETE FROM {SCHEMA}.person_day")
    op.execute(f"ALTER TABLE {SCHEMA}.person_day ALTER COLUMN person TYPE bigint")
    op.execute(fill_person_day_sql(SCHEMA, f"""
        SELECT o.station_id, o.station_path, o.held_on AS day, a.beneficiary_id AS person_id, a.populations
        FROM {SCHEMA}.attendance a
        JOIN (SELECT id, NULL AS activity_id, station_id, station_path, held_on, deleted_at FROM {SCHEMA}.group_session
              UNION ALL
              SELECT NULL, id, station_id, station_path, held_on, deleted_at FROM {SCHEMA}.activity) o
          ON o.id = a.session_id OR o.activity_id = a.activity_id
        WHERE a.deleted_at IS NULL AND o.deleted_at IS NULL""", MD5_PERSON_KEY_SQL.format(column="r.person_id")))
    op.execute(f"ALTER TABLE {SCHEMA}.attendance DROP COLUMN person_no")
