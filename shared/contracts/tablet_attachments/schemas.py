"""What an upload names, and what a stored file's download carries besides its bytes."""

from __future__ import annotations

from pydantic import BaseModel

from shared.attachments.schemas import AttachmentRead

# What a stored file's download carries besides its type (shared.uploads.download_headers); caching is
# the gateway's own (no-store, Vary: Authorization, as on every answer).
FILE_HEADERS = frozenset({"content-disposition", "content-length", "x-content-type-options",
                          "content-security-policy"})
# What the gateway passes on of the tablet's upload request.
UPLOAD_HEADERS = ("content-type", "accept-language", "content-length")


class UploadQuery(BaseModel):
    """The record the file belongs to, by its synced table and id, and what the file is for."""

    table: str
    record_id: str
    purpose: str
    file_name: str | None = None

    def params(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


__all__ = ["FILE_HEADERS", "UPLOAD_HEADERS", "AttachmentRead", "UploadQuery"]
