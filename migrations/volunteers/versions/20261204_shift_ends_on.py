"""volunteers: a shift that runs past midnight is one service-hours record, ending on the next day

DOMAIN.md counts one shift as one volunteer person-time; a shift past midnight had to be two
records and counted twice. `ends_on` is the day the shift ended: the day it started (every record
so far) or the next one, with its start and end times. Its hours count on the days they were
served (services/volunteers/service/shifts.py).

Revision ID: volunteers_0004
Revises: volunteers_0003
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "volunteers_0004"
down_revision = "volunteers_0003"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"
OLD_CHECK = "end_time IS NULL OR start_time IS NULL OR end_time > start_time"
SHIFT_CHECK = ("(ends_on = served_on AND (end_time IS NULL OR start_time IS NULL OR end_time > start_time)) "
               "OR (ends_on = served_on + 1 AND start_time IS NOT NULL AND end_time IS NOT NULL)")


def upgrade() -> None:
    op.add_column("service_hours", sa.Column("ends_on", sa.Date), schema=SCHEMA)
    op.execute(f"UPDATE {SCHEMA}.service_hours SET ends_on = served_on")
    op.alter_column("service_hours", "ends_on", nullable=False, schema=SCHEMA)
    # volunteers_0002's name went through the naming convention a second time.
    op.drop_constraint("ck_service_hours_ck_service_hours_end_after_start", "service_hours", schema=SCHEMA)
    op.create_check_constraint(op.f("ck_service_hours_shift"), "service_hours", SHIFT_CHECK, schema=SCHEMA)


def downgrade() -> None:
    # Before this revision a shift past midnight could only be two records; one cannot be made into
    # two here (two ids, two histories), so the organiser splits it first.
    op.execute(f"""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM {SCHEMA}.service_hours WHERE ends_on <> served_on) THEN
                RAISE EXCEPTION 'service_hours holds shifts past midnight: correct each into two records '
                                'of one day before downgrading';
            END IF;
        END $$""")
    op.drop_constraint("ck_service_hours_shift", "service_hours", schema=SCHEMA)
    # Named as volunteers_0002 named it (the convention prefixes it again).
    op.create_check_constraint("ck_service_hours_end_after_start", "service_hours", OLD_CHECK, schema=SCHEMA)
    op.drop_column("service_hours", "ends_on", schema=SCHEMA)
