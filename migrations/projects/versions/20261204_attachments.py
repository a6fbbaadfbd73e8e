"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from migrations.common import bound, create_attachment_table, drop_attachment_table

revision = "projects_0008"
down_revision = "projects_0007"

upgrade = bound(create_attachment_table, "projects")
downgrade = bound(drop_attachment_table, "projects")
