"""cases: figures read from rollups kept by ancestor station (shared.rollup, docs/rollups.md) (backfilled)

Revision ID: cases_0016
Revises: cases_0015
Create Date: 2026-12-05
"""
from migrations.common import bound, create_ancestor_stat, drop_ancestor_stat

revision = "cases_0016"
down_revision = "cases_0015"
branch_labels = None
depends_on = None

upgrade = bound(create_ancestor_stat, "cases")
downgrade = bound(drop_ancestor_stat, "cases")
