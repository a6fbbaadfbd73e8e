"""volunteers: registry, teams, service hours and their history, entries, certificates, rollups

Revision ID: volunteers_0002
Revises: volunteers_0001
Create Date: 2026-11-21
"""
from functools import partial

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.common import PATH, create_daily_stat, create_record_table, foreign_key

revision = "volunteers_0002"
down_revision = "volunteers_0001"
branch_labels = None
depends_on = None

SCHEMA = "volunteers"
HOURS = sa.Numeric(7, 2)

record_table = partial(create_record_table, SCHEMA)
fk = partial(foreign_key, SCHEMA)


def upgrade() -> None:
    record_table(
        "volunteer",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_type", sa.String(24), nullable=False),
        sa.Column("id_number_enc", sa.Text, nullable=False),
        sa.Column("id_number_bidx", sa.String(64), nullable=False),
        sa.Column("phone_enc", sa.Text),
        sa.Column("gender", sa.String(16)),
        sa.Column("birth_on", sa.Date, nullable=False),
        sa.Column("skills", ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("available_times", ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("volunteer_number", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disclosure_consent", sa.Boolean, server_default=sa.text("false"), nullable=False),
        sa.Column("guardian_name", sa.String(100)),
        sa.Column("guardian_relation", sa.String(50)),
        sa.Column("guardian_consent_on", sa.Date),
        sa.Column("user_id", sa.String(64)),
        sa.Column("registered_on", sa.Date, nullable=False),
        sa.Column("certified_hours", sa.Numeric(10, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("create_digest", sa.String(64)),
        sa.UniqueConstraint("volunteer_number", name="uq_volunteer_volunteer_number"),
    )
    op.create_index("uq_volunteer_id_number", "volunteer", ["id_number_bidx"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("uq_volunteer_user_id", "volunteer", ["user_id"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL AND user_id IS NOT NULL"))
    op.create_index("ix_volunteer_created_at_id", "volunteer", ["created_at", "id"], schema=SCHEMA)

    record_table(
        "team",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("leader_id", sa.String(64)),
        sa.Column("create_digest", sa.String(64)),
        fk("team", "leader_id", "volunteer"),
    )
    op.create_index("ix_team_created_at_id", "team", ["created_at", "id"], schema=SCHEMA)
    op.create_table(
        "team_member",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("joined_on", sa.Date, nullable=False),
        sa.Column("added_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "volunteer_id", name="pk_team_member"),
        fk("team_member", "team_id", "team"),
        fk("team_member", "volunteer_id", "volunteer"),
        schema=SCHEMA,
    )
    op.create_index("ix_team_member_volunteer_id", "team_member", ["volunteer_id"], schema=SCHEMA)

    record_table(
        "service_hours",
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64)),
        sa.Column("activity_kind", sa.String(24), nullable=False),
        sa.Column("activity_ref", sa.String(64)),
        sa.Column("activity_title", sa.String(200)),
        sa.Column("served_on", sa.Date, nullable=False),
        sa.Column("start_time", sa.Time),
        sa.Column("end_time", sa.Time),
        sa.Column("hours", HOURS, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispute_reason", sa.Text),
        sa.Column("create_digest", sa.String(64)),
        fk("service_hours", "volunteer_id", "volunteer"),
        fk("service_hours", "team_id", "team"),
        sa.CheckConstraint("hours > 0 AND hours <= 24", name="ck_service_hours_hours_range"),
        sa.CheckConstraint("end_time IS NULL OR start_time IS NULL OR end_time > start_time",
                           name="ck_service_hours_end_after_start"),
        indexes=("volunteer_id",),
    )
    op.create_index("ix_service_hours_volunteer_id_served_on", "service_hours", ["volunteer_id", "served_on"],
                    schema=SCHEMA)
    op.create_index("ix_service_hours_served_on_id", "service_hours", ["served_on", "id"], schema=SCHEMA)
    op.create_table(
        "service_hours_version",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("hours_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snapshot", JSONB, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("by", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_service_hours_version"),
        fk("service_hours_version", "hours_id", "service_hours"),
        schema=SCHEMA,
    )
    op.create_index("ix_service_hours_version_hours_id", "service_hours_version", ["hours_id"], schema=SCHEMA)

    record_table(
        "volunteer_entry",
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(200)),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("hours", HOURS),
        sa.Column("note", sa.Text),
        sa.Column("create_digest", sa.String(64)),
        fk("volunteer_entry", "volunteer_id", "volunteer"),
        indexes=("volunteer_id",),
    )

    record_table(
        "certificate",
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("period_from", sa.Date, nullable=False),
        sa.Column("period_to", sa.Date, nullable=False),
        sa.Column("total_hours", sa.Numeric(10, 2), nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("id_number_enc", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("issuer_name", sa.String(200), nullable=False),
        sa.Column("handler_id", sa.String(64), nullable=False),
        sa.Column("handler_name", sa.String(100), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("create_digest", sa.String(64)),
        sa.UniqueConstraint("number", name="uq_certificate_number"),
        fk("certificate", "volunteer_id", "volunteer"),
        indexes=("volunteer_id",),
    )

    op.create_table(
        "number_sequence",
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "kind", "year", name="pk_number_sequence"),
        schema=SCHEMA,
    )
    op.create_table(
        "served_day",
        sa.Column("volunteer_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("station_path", PATH, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("volunteer_id", "day", "station_id", name="pk_served_day"),
        schema=SCHEMA,
    )
    op.create_index("ix_served_day_station_path_day", "served_day", ["station_path", "day"], schema=SCHEMA)
    create_daily_stat(SCHEMA)


def downgrade() -> None:
    for table in ("daily_stat", "served_day", "number_sequence", "certificate", "volunteer_entry",
                  "service_hours_version", "service_hours", "team_member", "team", "volunteer"):
        op.drop_table(table, schema=SCHEMA)
