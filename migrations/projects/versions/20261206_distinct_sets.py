"""projects: the distinct sets kept by ancestor and month, and the change count they are checked by

shared.distinct_sets, docs/rollups.md.

Revision ID: projects_0012
Revises: projects_0011
Create Date: 2026-12-06
"""
from migrations.common import bound, create_distinct_sets, drop_distinct_sets

revision = "projects_0012"
down_revision = "projects_0011"
branch_labels = None
depends_on = None

upgrade = bound(create_distinct_sets, "projects")
downgrade = bound(drop_distinct_sets, "projects")
