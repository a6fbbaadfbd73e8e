"""File storage behind one interface: local disk by default, an S3-compatible store in production.

    storage = open_storage(settings.storage_url, "cases", access_key_id=..., secret_access_key=...)
    await storage.start()                          # in the lifespan; storage.close() at its end
    files = SealedFiles(storage, cipher)           # encrypted at rest under the field keys
    stored = await files.put(key, chunks)          # -> Stored(key, size, digest)
    async for chunk in await files.open(key, digest=stored.digest): ...

`Storage` (base.py) is the interface; `LocalStorage` and `S3Storage` implement it; sealed.py
holds the encrypted format and key rotation; url.py reads STORAGE_URL.
"""

from shared.storage.base import ObjectInfo, ObjectNotFound, Storage, StorageError, check_key, once
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage
from shared.storage.sealed import FileCorrupt, SealedFiles, Stored
from shared.storage.url import DEFAULT_ROOT, open_storage

__all__ = [
    "DEFAULT_ROOT", "FileCorrupt", "LocalStorage", "ObjectInfo", "ObjectNotFound", "S3Storage", "SealedFiles",
    "Storage", "StorageError", "Stored", "check_key", "once", "open_storage",
]
