"""visit rules: how often a person on a roster is due a visit, per population, with the defaults' sources

Revision ID: cases_0014
Revises: cases_0013
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "cases_0014"
down_revision = "cases_0013"
branch_labels = None
depends_on = None

SCHEMA = "cases"
PATH = sa.String(255, collation="C")

ELDERS = ("民政部等《关于开展特殊困难老年人探访关爱服务的指导意见》(2021): 特殊困难老年人月探访率达到100% "
          "(a visit a month; home visits and calls)")
HAOLIN = "Haolin default (no national frequency): a province sets its own"
ALL_MODES = ["home_visit", "phone", "video"]
# population, every_days, modes, source: the platform's defaults, kept as rows an operator or a
# province changes (docs/rosters.md lists them).
DEFAULTS = [
    ("elderly_alone", 30, ALL_MODES, ELDERS),
    ("elderly_empty_nest", 30, ALL_MODES, ELDERS),
    ("elderly_disabled", 30, ALL_MODES, ELDERS),
    ("tekun", 30, ["home_visit", "phone"], HAOLIN),
    ("disabled_severe", 30, ["home_visit", "phone"], HAOLIN),
    ("child_in_difficulty", 30, ["home_visit"], HAOLIN),
    ("child_left_behind", 30, ["home_visit", "phone", "video"], HAOLIN),
    ("child_unsupported", 30, ["home_visit"], HAOLIN),
    ("orphan", 30, ["home_visit"], HAOLIN),
    ("dibao", 90, ["home_visit", "phone"], HAOLIN),
    ("dibian", 90, ["home_visit", "phone"], HAOLIN),
]


def upgrade() -> None:
    rule = op.create_table(
        "visit_rule",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.BigInteger),
        sa.Column("station_path", PATH),
        sa.Column("population", sa.String(40), nullable=False),
        sa.Column("every_days", sa.Integer, nullable=False),
        sa.Column("modes", ARRAY(sa.String(16)), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("version", sa.Integer, server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_visit_rule"),
        schema=SCHEMA,
    )
    op.create_index("uq_visit_rule_station_population", "visit_rule",
                    [sa.text("coalesce(station_path, '')"), "population"], unique=True, schema=SCHEMA)
    op.bulk_insert(rule, [{"id": f"default-{p}", "population": p, "every_days": d, "modes": m, "source": s}
                          for p, d, m, s in DEFAULTS])


def downgrade() -> None:
    op.drop_table("visit_rule", schema=SCHEMA)
