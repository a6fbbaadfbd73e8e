"""attachments: files on records (consent forms, sign-in sheets, photos, proof, reports)"""
from functools import partial

from migrations.common import create_attachment_table, drop_attachment_table

revision = "volunteers_0008"
down_revision = "volunteers_0007"

upgrade = partial(create_attachment_table, "volunteers")
downgrade = partial(drop_attachment_table, "volunteers")
