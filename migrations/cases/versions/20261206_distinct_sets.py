"""cases: the distinct sets kept by ancestor and month, and the change count they are checked by

shared.distinct_sets, docs/rollups.md.

Revision ID: cases_0019
Revises: cases_0018
Create Date: 2026-12-06
"""
from functools import partial

from migrations.common import create_distinct_sets, drop_distinct_sets

revision = "cases_0019"
down_revision = "cases_0018"
branch_labels = None
depends_on = None

upgrade = partial(create_distinct_sets, "cases")
downgrade = partial(drop_distinct_sets, "cases")
