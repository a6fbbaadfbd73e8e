"""projects: the people-with-a-case target is named cases.beneficiaries in stored targets

It counts distinct people with a case of the project, not registrations, yet was stored as
beneficiaries.registered, the name of the dashboard's registrations figure. Clients that still
send the old name have it translated on write (shared.stats.TARGET_RENAMED).

Revision ID: projects_0005
Revises: projects_0004
Create Date: 2026-12-04
"""
from alembic import op

revision = "projects_0005"
down_revision = "projects_0004"
branch_labels = None
depends_on = None

OLD, NEW = "beneficiaries.registered", "cases.beneficiaries"


def _rename(old: str, new: str) -> None:
    # Each target of the array in its place; only projects that name the old metric are touched.
    op.execute(f"""
        UPDATE projects.project p SET targets = (
            SELECT jsonb_agg(CASE WHEN t->>'metric' = '{old}' THEN jsonb_set(t, '{{metric}}', '"{new}"') ELSE t END
                             ORDER BY i)
            FROM jsonb_array_elements(p.targets) WITH ORDINALITY AS x(t, i))
        WHERE jsonb_typeof(p.targets) = 'array' AND p.targets @> '[{{"metric": "{old}"}}]'""")


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
