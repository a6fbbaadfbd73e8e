"""volunteers: the change count of the rollup by ancestor (no distinct set kept here)

shared.distinct_sets, docs/rollups.md.

Revision ID: volunteers_0011
Revises: volunteers_0010
Create Date: 2026-12-06
"""
from functools import partial

from migrations.common import create_distinct_sets, drop_distinct_sets

revision = "volunteers_0011"
down_revision = "volunteers_0010"
branch_labels = None
depends_on = None

upgrade = partial(create_distinct_sets, "volunteers", sets=False)
downgrade = partial(drop_distinct_sets, "volunteers", sets=False)
