"""Where a service's attachments' bytes go: its namespace of STORAGE_URL, sealed under its field keys."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from shared.crypto import FieldCipher
from shared.storage import SealedFiles, Storage, open_storage
from shared.uploads import Uploads


@dataclass
class AttachmentFiles:
    storage: Storage
    files: SealedFiles
    uploads: Uploads

    @classmethod
    def open(cls, settings, namespace: str, cipher: FieldCipher) -> "AttachmentFiles":
        """Not started yet: `await files.start()` in the lifespan, `close()` at its end."""
        storage = open_storage(settings.storage_url, namespace, access_key_id=settings.storage_access_key_id,
                               secret_access_key=settings.storage_secret_access_key)
        files = SealedFiles(storage, cipher)
        return cls(storage, files, Uploads(files, max_bytes=settings.upload_max_bytes))

    async def start(self) -> None:
        await self.storage.start()

    async def close(self) -> None:
        await self.storage.close()


def attachment_files(request: Request) -> AttachmentFiles:
    return request.app.state.attachments
