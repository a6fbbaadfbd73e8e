"""volunteers: figures read from rollups kept by ancestor station (shared.rollup, docs/rollups.md) (backfilled)

Revision ID: volunteers_0009
Revises: volunteers_0008
Create Date: 2026-12-05
"""
from migrations.common import bound, create_ancestor_stat, drop_ancestor_stat

revision = "volunteers_0009"
down_revision = "volunteers_0008"
branch_labels = None
depends_on = None

upgrade = bound(create_ancestor_stat, "volunteers")
downgrade = bound(drop_ancestor_stat, "volunteers")
