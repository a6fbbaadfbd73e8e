"""volunteers: every synced table's station_path index on (station_path, change_xid), for the pull

An incremental pull reads a subtree's rows changed in a window; on station_path alone PostgreSQL
visited every row of the subtree to test when it changed (migrations.common PULL_INDEX).
Built with each table locked against writes, a few seconds a table at the province
(docs/operations.md, "Upgrading a large database").

Revision ID: volunteers_0014
Revises: volunteers_0013
Create Date: 2026-12-07
"""
from migrations.common import add_pull_indexes, bound, drop_pull_indexes

revision = "volunteers_0014"
down_revision = "volunteers_0013"
branch_labels = None
depends_on = None

upgrade = bound(add_pull_indexes, "volunteers")
downgrade = bound(drop_pull_indexes, "volunteers")
