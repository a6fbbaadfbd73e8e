"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from functools import partial

from migrations.common import create_attachment_table, drop_attachment_table

revision = "projects_0008"
down_revision = "projects_0007"

upgrade = partial(create_attachment_table, "projects")
downgrade = partial(drop_attachment_table, "projects")
