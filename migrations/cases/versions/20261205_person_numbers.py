"""cases: a dense person number per beneficiary, and person_day keyed by it

Revision ID: cases_0015
Revises: cases_0014
Create Date: 2026-12-05
"""
from alembic import op

from migrations.common import fill_person_day_sql

revision = "cases_0015"
down_revision = "cases_0014"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    # Numbers from 1 in registration order, then from the sequence: dense, so a bitmap of them stays small.
    op.execute(f"CREATE SEQUENCE {SCHEMA}.person_no_seq AS integer")
    op.execute(f"ALTER TABLE {SCHEMA}.beneficiary ADD COLUMN person_no integer")
    op.execute(f"""
        UPDATE {SCHEMA}.beneficiary b SET person_no = n.no
        FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS no FROM {SCHEMA}.beneficiary) n
        WHERE n.id = b.id""")
    op.execute(f"SELECT setval('{SCHEMA}.person_no_seq', coalesce(max(person_no), 0) + 1, false) "
               f"FROM {SCHEMA}.beneficiary")
    op.execute(f"ALTER SEQUENCE {SCHEMA}.person_no_seq OWNED BY {SCHEMA}.beneficiary.person_no")
    op.execute(f"ALTER TABLE {SCHEMA}.beneficiary ALTER COLUMN person_no SET DEFAULT nextval('{SCHEMA}.person_no_seq'), "
               "ALTER COLUMN person_no SET NOT NULL")
    op.create_index("uq_beneficiary_person_no", "beneficiary", ["person_no"], unique=True, schema=SCHEMA)
    # person_day's md5 keys cannot be turned into numbers: rebuilt from the live service records and visits.
    op.execute(f"DELETE FROM {SCHEMA}.person_day")
    op.execute(f"ALTER TABLE {SCHEMA}.person_day ALTER COLUMN person TYPE integer")
    op.execute(fill_person_day_sql(SCHEMA, f"""
        SELECT r.station_id, r.station_path, r.served_on AS day, b.person_no AS person, r.populations
        FROM {SCHEMA}.service_record r JOIN {SCHEMA}.beneficiary b ON b.id = r.beneficiary_id
        WHERE r.deleted_at IS NULL
        UNION ALL
        SELECT v.station_id, v.station_path, v.visited_on, b.person_no, v.populations
        FROM {SCHEMA}.visit v JOIN {SCHEMA}.beneficiary b ON b.id = v.beneficiary_id
        WHERE v.deleted_at IS NULL"""))


def downgrade() -> None:
    from migrations.common import MD5_PERSON_KEY_SQL

    op.execute(f"DELETE FROM {SCHEMA}.person_day")
    op.execute(f"ALTER TABLE {SCHEMA}.person_day ALTER COLUMN person TYPE bigint")
    op.execute(fill_person_day_sql(SCHEMA, f"""
        SELECT station_id, station_path, served_on AS day, beneficiary_id AS person_id, populations
        FROM {SCHEMA}.service_record WHERE deleted_at IS NULL
        UNION ALL
        SELECT station_id, station_path, visited_on, beneficiary_id, populations
        FROM {SCHEMA}.visit WHERE deleted_at IS NULL""", MD5_PERSON_KEY_SQL.format(column="r.person_id")))
    op.drop_index("uq_beneficiary_person_no", "beneficiary", schema=SCHEMA)
    op.execute(f"ALTER TABLE {SCHEMA}.beneficiary DROP COLUMN person_no")
