"""cases: transfers of beneficiaries between stations, and the departures tablets are told of

Revision ID: cases_0017
Revises: cases_0016
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations.common import PATH, create_record_table, foreign_key

revision = "cases_0017"
down_revision = "cases_0016"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    # New tables: nothing to backfill on an existing database (no transfer happened before them).
    # A transfer is filed at the station the person leaves (station_id, station_path); the receiving
    # station is named by id only, its path read from the station replica when asked, so a station
    # move never leaves a stale path here.
    create_record_table(
        SCHEMA, "transfer",
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("to_station_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("direct", sa.Boolean, nullable=False),
        sa.Column("transferred_on", sa.Date),
        sa.Column("case_ids", ARRAY(sa.String(64)), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.String(500)),
        sa.Column("create_digest", sa.String(64)),
        foreign_key(SCHEMA, "transfer", "beneficiary_id", "beneficiary"),
        indexes=("beneficiary_id", "to_station_id"),
    )
    # One open request per person: a second would race the first to move them.
    op.create_index("uq_transfer_pending_beneficiary", "transfer", ["beneficiary_id"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("status = 'pending' AND deleted_at IS NULL"))
    # Records that left a station's subtree (shared/departures.py): an incremental pull of a tablet
    # there serves them as deletions. Append-only; change_xid is the sync marker, set once on insert.
    op.create_table(
        "sync_departure",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("station_path", PATH, nullable=False),
        sa.Column("departed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_departure"),
        schema=SCHEMA,
    )
    op.execute(f'ALTER TABLE "{SCHEMA}".sync_departure ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()')
    # A pull asks for one table's departures under one subtree in a change_xid window: a range of
    # this index (station_path has the C collation, so a prefix is a range), whatever other subtrees
    # have sent away meanwhile.
    op.execute(f'CREATE INDEX ix_sync_departure_table_name_station_path ON "{SCHEMA}".sync_departure '
               "(table_name, station_path, change_xid)")
    op.create_index("ix_sync_departure_station_id", "sync_departure", ["station_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("sync_departure", schema=SCHEMA)
    op.drop_table("transfer", schema=SCHEMA)
