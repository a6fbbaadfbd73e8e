"""cases: writers append the rollup's deltas to ancestor_pending, folded into ancestor_stat in the background

shared.rollup, docs/rollups.md. The shards of the two top levels are folded into one row per key.
Built with daily_stat locked against writes (docs/operations.md, "Upgrading a large database").

Revision ID: cases_0020
Revises: cases_0019
Create Date: 2026-12-07
"""
from migrations.common import bound, create_ancestor_pending, drop_ancestor_pending

revision = "cases_0020"
down_revision = "cases_0019"
branch_labels = None
depends_on = None

upgrade = bound(create_ancestor_pending, "cases")
downgrade = bound(drop_ancestor_pending, "cases")
