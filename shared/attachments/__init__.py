"""Attachments: files on records (consent forms, sign-in sheets, photos, proof, reports).

Machinery only; each service decides which of its records carry files, for which purposes, who
may add them and whose files are a child's:

    Attachment = attachment_model(Base)                          # models.py: its own table, own schema
    AttachmentFiles.open(settings, "cases", cipher)              # the lifespan's (shared.state.ServiceState)
    router = attachment_router("/v1/beneficiaries/{beneficiary_id}/attachments", Owner(...), Attachment)

The record's metadata lives in the owning service's `attachment` table; the bytes go through
shared/uploads (checked, cleaned, sealed) into shared/storage. Every route loads the owning
record through the service's own scoped dependency first, so a file is scoped exactly like the
record it belongs to (out of scope: 404), and every download is audited.
"""

from shared.attachments.files import AttachmentFiles
from shared.attachments.model import attachment_model
from shared.attachments.routes import Owner, attachment_router
from shared.attachments.schemas import AttachmentList, AttachmentRead, EvidenceGap

__all__ = ["AttachmentFiles", "AttachmentList", "AttachmentRead", "EvidenceGap", "Owner", "attachment_model", "attachment_router"]
