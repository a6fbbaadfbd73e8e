"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from functools import partial

from migrations.common import create_attachment_table, drop_attachment_table

revision = "cases_0010"
down_revision = "cases_0009"

upgrade = partial(create_attachment_table, "cases")
downgrade = partial(drop_attachment_table, "cases")
