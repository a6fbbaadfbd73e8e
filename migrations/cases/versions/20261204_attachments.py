"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from migrations.common import bound, create_attachment_table, drop_attachment_table

revision = "cases_0010"
down_revision = "cases_0009"

upgrade = bound(create_attachment_table, "cases")
downgrade = bound(drop_attachment_table, "cases")
