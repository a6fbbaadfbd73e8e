"""volunteers: the change count of the rollup by ancestor (no distinct set kept here)

shared.distinct_sets, docs/rollups.md.

Revision ID: volunteers_0011
Revises: volunteers_0010
Create Date: 2026-12-06
"""
from migrations.common import bound, create_distinct_sets, drop_distinct_sets

revision = "volunteers_0011"
down_revision = "volunteers_0010"
branch_labels = None
depends_on = None

upgrade = bound(create_distinct_sets, "volunteers", sets=False)
downgrade = bound(drop_distinct_sets, "volunteers", sets=False)
