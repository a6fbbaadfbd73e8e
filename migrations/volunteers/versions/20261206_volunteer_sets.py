"""volunteers: a dense member number per volunteer, carried by served_day, and the distinct sets of
active volunteers kept by ancestor and month

shared.distinct_sets, docs/rollups.md. Volunteer ids are strings (made by clients); a Roaring bitmap
wants small dense integers, so each volunteer gets one, assigned once and never reused.

Revision ID: volunteers_0012
Revises: volunteers_0011
Create Date: 2026-12-06
"""
from alembic import op

from migrations.common import create_distinct_set_table, create_indexes, drop_indexes

revision = "volunteers_0012"
down_revision = "volunteers_0011"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"
# A province's month read index only (the node's subtree by month, and grouped by child), and the
# records filed at given stations themselves in a month (a stale set built from the sets below).
INDEXES = [
    ("ix_served_day_day_path", "served_day", ["day", "station_path"], ["member_no", "station_id"], None),
    ("ix_served_day_station_day", "served_day", ["station_id", "day"], ["member_no"], None),
]
FORMER = [("ix_served_day_day_path", "served_day", ["day", "station_path"], ["volunteer_id"], None)]


def upgrade() -> None:
    # Numbers from 1 in registration order, then from the sequence: dense, so a bitmap of them stays small.
    op.execute(f"CREATE SEQUENCE {SCHEMA}.volunteer_member_no_seq AS integer")
    op.execute(f"ALTER TABLE {SCHEMA}.volunteer ADD COLUMN member_no integer")
    op.execute(f"""
        UPDATE {SCHEMA}.volunteer v SET member_no = n.no
        FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS no FROM {SCHEMA}.volunteer) n
        WHERE n.id = v.id""")
    op.execute(f"SELECT setval('{SCHEMA}.volunteer_member_no_seq', coalesce(max(member_no), 0) + 1, false) "
               f"FROM {SCHEMA}.volunteer")
    op.execute(f"ALTER SEQUENCE {SCHEMA}.volunteer_member_no_seq OWNED BY {SCHEMA}.volunteer.member_no")
    op.execute(f"ALTER TABLE {SCHEMA}.volunteer ALTER COLUMN member_no "
               f"SET DEFAULT nextval('{SCHEMA}.volunteer_member_no_seq'), ALTER COLUMN member_no SET NOT NULL")
    op.create_index("uq_volunteer_member_no", "volunteer", ["member_no"], unique=True, schema=SCHEMA)
    op.execute(f"ALTER TABLE {SCHEMA}.served_day ADD COLUMN member_no integer")
    op.execute(f"UPDATE {SCHEMA}.served_day s SET member_no = v.member_no FROM {SCHEMA}.volunteer v "
               "WHERE v.id = s.volunteer_id")
    op.execute(f"ALTER TABLE {SCHEMA}.served_day ALTER COLUMN member_no SET NOT NULL")
    drop_indexes(SCHEMA, FORMER)
    create_indexes(SCHEMA, INDEXES)
    create_distinct_set_table(SCHEMA)


def downgrade() -> None:
    op.drop_table("distinct_set", schema=SCHEMA)
    drop_indexes(SCHEMA, INDEXES)
    create_indexes(SCHEMA, FORMER)
    op.execute(f"ALTER TABLE {SCHEMA}.served_day DROP COLUMN member_no")
    op.drop_index("uq_volunteer_member_no", "volunteer", schema=SCHEMA)
    op.execute(f"ALTER TABLE {SCHEMA}.volunteer DROP COLUMN member_no")
