"""gateway schema: station tree, users and refresh tokens

Revision ID: gateway_0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "gateway_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "gateway"
KINDS = "('province', 'city', 'county', 'township', 'village')"
ROLES = "('admin', 'official', 'station_head', 'social_worker', 'supervisor', 'volunteer')"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.execute(f'CREATE SEQUENCE "{SCHEMA}".station_change_seq')
    op.create_table(
        "station",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("parent_id", sa.BigInteger),
        sa.Column("path", sa.String(255, collation="C"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(12)),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("change_seq", sa.BigInteger, nullable=False,
                  server_default=sa.text(f"nextval('{SCHEMA}.station_change_seq')")),
        sa.PrimaryKeyConstraint("id", name="pk_station"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{SCHEMA}.station.id"], name="fk_station_parent_id_station"),
        sa.UniqueConstraint("path", name="uq_station_path"),
        sa.UniqueConstraint("change_seq", name="uq_station_change_seq"),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_station_kind"),
        sa.CheckConstraint("path ~ '^/([0-9]+/)+$'", name="ck_station_path_shape"),
        schema=SCHEMA,
    )
    op.execute(f'ALTER SEQUENCE "{SCHEMA}".station_change_seq OWNED BY "{SCHEMA}".station.change_seq')
    op.create_index("ix_station_parent_id", "station", ["parent_id"], schema=SCHEMA)
    # Sibling names are unique among live stations (imports and people tell stations apart by name).
    op.create_index("uq_station_sibling_name", "station", ["parent_id", "name"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("deleted_at IS NULL"))

    op.create_table(
        "user",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("station_id", sa.BigInteger, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("lock_count", sa.SmallInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.Column("created_by", sa.String(64)),
        sa.Column("updated_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_user"),
        sa.ForeignKeyConstraint(["station_id"], [f"{SCHEMA}.station.id"], name="fk_user_station_id_station"),
        sa.CheckConstraint(f"role IN {ROLES}", name="ck_user_role"),
        schema=SCHEMA,
    )
    op.create_index("ix_user_station_id", "user", ["station_id"], schema=SCHEMA)
    op.execute(f'CREATE UNIQUE INDEX uq_user_username_lower ON "{SCHEMA}"."user" (lower(username))')

    op.create_table(
        "refresh_token",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_token"),
        sa.ForeignKeyConstraint(["user_id"], [f"{SCHEMA}.user.id"], name="fk_refresh_token_user_id_user",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_token_token_hash"),
        schema=SCHEMA,
    )
    op.create_index("ix_refresh_token_family_id", "refresh_token", ["family_id"], schema=SCHEMA)
    op.create_index("ix_refresh_token_user_id", "refresh_token", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("refresh_token", schema=SCHEMA)
    op.drop_table("user", schema=SCHEMA)
    op.drop_table("station", schema=SCHEMA)
