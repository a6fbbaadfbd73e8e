"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from migrations.common import bound, create_attachment_table, drop_attachment_table

revision = "volunteers_0008"
down_revision = "volunteers_0007"

upgrade = bound(create_attachment_table, "volunteers")
downgrade = bound(drop_attachment_table, "volunteers")
