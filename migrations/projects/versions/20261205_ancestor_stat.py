"""projects: figures read from rollups kept by ancestor station (shared.rollup, docs/rollups.md) (backfilled)

Revision ID: projects_0010
Revises: projects_0009
Create Date: 2026-12-05
"""
from migrations.common import bound, create_ancestor_stat, drop_ancestor_stat

revision = "projects_0010"
down_revision = "projects_0009"
branch_labels = None
depends_on = None

upgrade = bound(create_ancestor_stat, "projects")
downgrade = bound(drop_ancestor_stat, "projects")
