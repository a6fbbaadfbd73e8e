"""supervision: approval rules per station, steps submitted for approval, supervisors' assignments,
supervision records

Existing cases get no pending step (NULL): nothing was submitted before approvals existed.
"""
from functools import partial

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations.common import create_record_table, foreign_key

revision = "cases_0011"
down_revision = "cases_0010"

SCHEMA = "cases"
record_table = partial(create_record_table, SCHEMA)
LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.add_column("case", sa.Column("pending_step", sa.String(16)), schema=SCHEMA)
    record_table(
        "approval_rule",
        sa.Column("steps", ARRAY(sa.String(16)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("high_risk", sa.Boolean, server_default=sa.text("false"), nullable=False),
    )
    op.create_index("uq_approval_rule_station", "approval_rule", ["station_id"], unique=True, schema=SCHEMA,
                    postgresql_where=LIVE)
    record_table(
        "approval",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("note", sa.Text),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("comments", sa.Text),
        foreign_key(SCHEMA, "approval", "case_id", "case"),
        indexes=("case_id",),
    )
    op.create_index("ix_approval_status_created_at_id", "approval", ["status", "created_at", "id"], schema=SCHEMA)
    record_table(
        "supervisor_assignment",
        sa.Column("supervisor_id", sa.String(64), nullable=False),
        indexes=("supervisor_id",),
    )
    record_table(
        "supervision_record",
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("supervisor_id", sa.String(64), nullable=False),
        sa.Column("worker_ids", ARRAY(sa.String(64)), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("topics", ARRAY(sa.String(200)), nullable=False),
        sa.Column("case_ids", ARRAY(sa.String(64)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("notes", sa.Text),
        indexes=("supervisor_id",),
    )
    op.create_index("ix_supervision_record_held_on_id", "supervision_record", ["held_on", "id"], schema=SCHEMA)
    op.create_index("uq_supervisor_assignment", "supervisor_assignment", ["supervisor_id", "station_id"],
                    unique=True, schema=SCHEMA, postgresql_where=LIVE)


def downgrade() -> None:
    for table in ("supervision_record", "supervisor_assignment", "approval", "approval_rule"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_column("case", "pending_step", schema=SCHEMA)
