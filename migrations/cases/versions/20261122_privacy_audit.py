"""cases: health, disability, address and case notes sealed; the append-only audit log

Revision ID: cases_0005
Revises: cases_0004
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

from migrations.sealing import seal, unseal
from shared.audit.ddl import create_audit_log, drop_audit_log

revision = "cases_0005"
down_revision = "cases_0004"
branch_labels = None
depends_on = None

SCHEMA = "cases"

# (table, column, type before): every column now shared.crypto.Sealed in services/cases/models.py.
SEALED = [
    ("beneficiary", "address", sa.String(300)),
    ("beneficiary", "self_care", sa.String(16)),
    ("beneficiary", "disability_type", sa.String(16)),
    ("beneficiary", "disability_grade", sa.SmallInteger()),
    ("case", "presenting_problem", sa.Text()),
    ("case_event", "note", sa.Text()),
    ("assessment", "needs", sa.Text()),
    ("assessment", "notes", sa.Text()),
    ("service_plan", "notes", sa.Text()),
    ("service_record", "content", sa.Text()),
    ("referral", "reason", sa.Text()),
    ("referral", "notes", sa.Text()),
    ("follow_up", "notes", sa.Text()),
]


def upgrade() -> None:
    for table, column, before in SEALED:
        if not isinstance(before, sa.Text):
            op.alter_column(table, column, type_=sa.Text(), existing_type=before, schema=SCHEMA,
                            postgresql_using=f'"{column}"::text')
        seal(SCHEMA, table, column)
    create_audit_log(op, SCHEMA)


def downgrade() -> None:
    drop_audit_log(op, SCHEMA)
    for table, column, before in SEALED:
        unseal(SCHEMA, table, column)
        if not isinstance(before, sa.Text):
            op.alter_column(table, column, type_=before, existing_type=sa.Text(), schema=SCHEMA,
                            postgresql_using=f'"{column}"::{before.compile(dialect=op.get_bind().dialect)}')
