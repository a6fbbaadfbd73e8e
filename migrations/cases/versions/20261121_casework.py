"""casework: populations, beneficiaries, cases and their records, daily rollups

Revision ID: cases_0002
Revises: cases_0001
Create Date: 2026-11-21
"""
from functools import partial

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.common import create_daily_stat, create_record_table, foreign_key

revision = "cases_0002"
down_revision = "cases_0001"
branch_labels = None
depends_on = None

SCHEMA = "cases"

POPULATIONS = [
    ("elderly", "老年人", "Older people"),
    ("elderly_empty_nest", "空巢老人", "Empty-nest elders"),
    ("elderly_alone", "独居老人", "Elders living alone"),
    ("elderly_disabled", "失能老人", "Disabled elders"),
    ("children", "儿童", "Children"),
    ("child_in_difficulty", "困境儿童", "Children in difficulty"),
    ("child_left_behind", "留守儿童", "Left-behind children"),
    ("orphan", "孤儿", "Orphans"),
    ("child_unsupported", "事实无人抚养儿童", "De-facto unsupported children"),
    ("youth", "青少年", "Youth"),
    ("disabled", "残疾人", "People with disabilities"),
    ("disabled_severe", "重度残疾人", "People with severe disabilities"),
    ("dibao", "低保对象", "Minimum living allowance (dibao) recipients"),
    ("dibian", "低保边缘对象", "Near-dibao (dibian) households"),
    ("tekun", "特困人员", "Persons in extreme poverty (tekun)"),
    ("hardship_spending", "支出型困难家庭", "Spending-type hardship families"),
    ("women_family", "妇女家庭", "Women and families"),
    ("women_left_behind", "留守妇女", "Left-behind women"),
    ("other", "其他", "Other"),
]

record_table = partial(create_record_table, SCHEMA)


def case_fk(table: str) -> sa.ForeignKeyConstraint:
    return foreign_key(SCHEMA, table, "case_id", "case")


def upgrade() -> None:
    population = op.create_table(
        "population",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("label_zh", sa.String(100), nullable=False),
        sa.Column("label_en", sa.String(100), nullable=False),
        sa.Column("sort_order", sa.Integer, server_default=sa.text("1000"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_population"),
        schema=SCHEMA,
    )
    op.bulk_insert(population, [{"code": c, "label_zh": zh, "label_en": en, "sort_order": (i + 1) * 10}
                                for i, (c, zh, en) in enumerate(POPULATIONS)])

    record_table(
        "beneficiary",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_initials", sa.String(100, collation="C"), nullable=False),
        sa.Column("name_pinyin", sa.String(600, collation="C"), nullable=False),
        sa.Column("gender", sa.String(16)),
        sa.Column("birth_on", sa.Date),
        sa.Column("id_number_enc", sa.Text),
        sa.Column("id_number_bidx", sa.String(64)),
        sa.Column("phone_enc", sa.Text),
        sa.Column("phone_tail_bidx", sa.String(64)),
        sa.Column("address", sa.String(300)),
        sa.Column("emergency_contact_enc", sa.Text),
        sa.Column("self_care", sa.String(16)),
        sa.Column("disability_type", sa.String(16)),
        sa.Column("disability_grade", sa.SmallInteger),
        sa.Column("need_level", sa.String(16)),
        sa.Column("worker_id", sa.String(64)),
        sa.Column("consents", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("registered_on", sa.Date, nullable=False),
        sa.Column("create_digest", sa.String(64)),
        indexes=("phone_tail_bidx", "worker_id"),
    )
    # Unique among live beneficiaries of one province: see models.Beneficiary.
    op.create_index("uq_beneficiary_id_number_province", "beneficiary",
                    ["id_number_bidx", sa.text("split_part(station_path, '/', 2)")], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL AND id_number_bidx IS NOT NULL"))
    op.create_index("ix_beneficiary_populations", "beneficiary", ["populations"], postgresql_using="gin",
                    schema=SCHEMA)
    op.create_index("ix_beneficiary_created_at_id", "beneficiary", ["created_at", "id"], schema=SCHEMA)

    record_table(
        "case",
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("presenting_problem", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(64)),
        sa.Column("project_id", sa.String(64)),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("close_reason", sa.String(32)),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("create_digest", sa.String(64)),
        sa.ForeignKeyConstraint(["beneficiary_id"], [f"{SCHEMA}.beneficiary.id"],
                                name="fk_case_beneficiary_id_beneficiary"),
        indexes=("beneficiary_id", "worker_id", "status"),
    )
    op.create_index("ix_case_opened_on_id", "case", ["opened_on", "id"], schema=SCHEMA)
    op.create_index("ix_case_populations", "case", ["populations"], postgresql_using="gin", schema=SCHEMA)

    record_table(
        "case_event",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("note", sa.Text),
        case_fk("case_event"),
        indexes=("case_id",),
    )

    def child(name: str, *columns, indexes: tuple[str, ...] = ()) -> None:
        record_table(name, sa.Column("case_id", sa.String(64), nullable=False), *columns,
                     sa.Column("create_digest", sa.String(64)), case_fk(name), indexes=("case_id", *indexes))

    child(
        "assessment",
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("areas", ARRAY(sa.String(100)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("needs", sa.Text),
        sa.Column("risk_level", sa.String(16)),
        sa.Column("notes", sa.Text),
    )
    child(
        "service_plan",
        sa.Column("planned_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("goals", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("review_on", sa.Date),
        sa.Column("notes", sa.Text),
    )
    child(
        "service_record",
        sa.Column("beneficiary_id", sa.String(64), nullable=False),
        sa.Column("served_on", sa.Date, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("duration_minutes", sa.Integer),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("service_type", sa.String(32), nullable=False),
        sa.Column("resources_yuan", sa.Numeric(14, 2)),
        sa.Column("person_times", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("populations", ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        indexes=("beneficiary_id", "worker_id"),
    )
    op.create_index("ix_service_record_case_id_served_on", "service_record", ["case_id", "served_on"],
                    schema=SCHEMA)
    child(
        "referral",
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("referred_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("responded_on", sa.Date),
        sa.Column("completed_on", sa.Date),
        sa.Column("notes", sa.Text),
    )
    child(
        "follow_up",
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("done_on", sa.Date),
        sa.Column("method", sa.String(16)),
        sa.Column("notes", sa.Text),
    )

    create_daily_stat(SCHEMA)


def downgrade() -> None:
    for table in ("daily_stat", "follow_up", "referral", "service_record", "service_plan", "assessment",
                  "case_event", "case", "beneficiary", "population"):
        op.drop_table(table, schema=SCHEMA)
