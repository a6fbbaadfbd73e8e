"""cases: the distinct sets kept by ancestor and month, and the change count they are checked by

shared.distinct_sets, docs/rollups.md.

Revision ID: cases_0019
Revises: cases_0018
Create Date: 2026-12-06
"""
from migrations.common import bound, create_distinct_sets, drop_distinct_sets

revision = "cases_0019"
down_revision = "cases_0018"
branch_labels = None
depends_on = None

upgrade = bound(create_distinct_sets, "cases")
downgrade = bound(drop_distinct_sets, "cases")
