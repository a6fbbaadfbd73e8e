"""projects: projects and targets, groups, sessions, activities, attendance, evaluations, daily rollups

Revision ID: projects_0002
Revises: projects_0001
Create Date: 2026-11-21
"""
from functools import partial

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.common import create_daily_stat, create_record_table, foreign_key

revision = "projects_0002"
down_revision = "projects_0001"
branch_labels = None
depends_on = None

SCHEMA = "projects"
EMPTY = sa.text("'{}'")

record_table = partial(create_record_table, SCHEMA)
fk = partial(foreign_key, SCHEMA)


def upgrade() -> None:
    record_table(
        "project",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("purchaser", sa.String(200), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("covered_station_ids", ARRAY(sa.BigInteger), server_default=EMPTY, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("budget", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("budget_total_yuan", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("targets", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("create_digest", sa.String(64)),
    )
    op.create_index("ix_project_starts_on_id", "project", ["starts_on", "id"], schema=SCHEMA)

    record_table(
        "group",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40)),
        sa.Column("target_population", sa.String(40)),
        sa.Column("planned_sessions", sa.Integer),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("members", ARRAY(sa.String(64)), server_default=EMPTY, nullable=False),
        sa.Column("create_digest", sa.String(64)),
        fk("group", "project_id", "project"),
        indexes=("project_id",),
    )
    op.create_index("ix_group_starts_on_id", "group", ["starts_on", "id"], schema=SCHEMA)

    record_table(
        "group_session",
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("starts_at", sa.Time),
        sa.Column("topic", sa.String(200)),
        sa.Column("anonymous_count", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("named_count", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("create_digest", sa.String(64)),
        fk("group_session", "group_id", "group"),
        indexes=("group_id", "project_id"),
    )
    op.create_index("ix_group_session_group_id_held_on", "group_session", ["group_id", "held_on"], schema=SCHEMA)

    record_table(
        "activity",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40)),
        sa.Column("place", sa.String(200)),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("starts_at", sa.Time),
        sa.Column("ends_at", sa.Time),
        sa.Column("anonymous_count", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("named_count", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("volunteer_ids", ARRAY(sa.String(64)), server_default=EMPTY, nullable=False),
        sa.Column("resources_yuan", sa.Numeric(14, 2)),
        sa.Column("photos", ARRAY(sa.String(500)), server_default=EMPTY, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("create_digest", sa.String(64)),
        fk("activity", "project_id", "project"),
        indexes=("project_id",),
    )
    op.create_index("ix_activity_held_on_id", "activity", ["held_on", "id"], schema=SCHEMA)

    record_table(
        "attendance",
        sa.Column("session_id", sa.String(64)),
        sa.Column("activity_id", sa.String(64)),
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=EMPTY, nullable=False),
        fk("attendance", "session_id", "group_session"),
        fk("attendance", "activity_id", "activity"),
        sa.CheckConstraint("(session_id IS NULL) <> (activity_id IS NULL)", name="ck_attendance_one_occasion"),
        indexes=("beneficiary_id",),
    )
    op.create_index("uq_attendance_session_beneficiary", "attendance", ["session_id", "beneficiary_id"],
                    unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL AND session_id IS NOT NULL"))
    op.create_index("uq_attendance_activity_beneficiary", "attendance", ["activity_id", "beneficiary_id"],
                    unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL AND activity_id IS NOT NULL"))

    record_table(
        "evaluation",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("evaluator", sa.String(200), nullable=False),
        sa.Column("scores", JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("total_score", sa.Numeric(6, 2)),
        sa.Column("grade", sa.String(16)),
        sa.Column("notes", sa.Text),
        sa.Column("create_digest", sa.String(64)),
        fk("evaluation", "project_id", "project"),
        indexes=("project_id",),
    )

    create_daily_stat(SCHEMA)


def downgrade() -> None:
    for table in ("daily_stat", "evaluation", "attendance", "activity", "group_session", "group", "project"):
        op.drop_table(table, schema=SCHEMA)
