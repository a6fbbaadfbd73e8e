"""One upload, from the request body to sealed storage, whatever route receives it.

    uploads = Uploads(SealedFiles(storage, cipher), max_bytes=20_000_000)    # in the lifespan
    accepted = await uploads.accept_request(request, kinds=IMAGES, field="file")
    # -> Accepted(kind=Kind.JPEG, received=Kind.HEIC, size=..., digest=..., key=..., thumbnail_key=...)

1. The body is read as it arrives into a spool (spool.py: on disk, sealed, never whole in memory);
   past the limit it stops with 413 and nothing is stored.
2. Its kind is told by its first bytes (kinds.py). A kind not accepted here is 415, naming the
   field; an empty file is 422.
3. An image is decoded and re-encoded without metadata, with a thumbnail (images.py; at most
   `decoders` at once per process, one by default: a 12-megapixel photo takes about 60 MB while it
   is re-encoded, and a service process idles at about 200 MB of a 300 MB budget); a PDF is checked
   to be built like one (pdf.py). A file that claims a kind it is not is 422, naming the field.
4. What passed is sealed into storage under a new random key (shared/storage/sealed.py), with
   the SHA-256 of the bytes stored: the digest the caller records to find a repeated upload and
   to check each download.

415 and not 422 for a kind outside the allowlist: RFC 9110 (15.5.16) gives 415 to content in a
format the resource does not take, found "by inspecting the data directly" too, and it tells a
client to pick another file rather than fix this one; the answer's `Accept` header lists the
types taken. 422 stays for content that is not what it claims (a damaged JPEG, a half PDF).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Collection
from dataclasses import dataclass

from starlette.requests import Request

from shared.errors import InvalidInput, UnsupportedMediaType
from shared.storage import SealedFiles, once
from shared.uploads.images import ImageRefused, reencode
from shared.uploads.kinds import ALL_KINDS, Kind, described, sniff
from shared.uploads.pdf import is_pdf
from shared.uploads.spool import Spool, too_large

THUMBNAIL_SUFFIX = "-thumb"


@dataclass(frozen=True)
class Accepted:
    """An upload stored: what the attachment's record keeps."""

    kind: Kind  # as stored: JPEG, PNG or PDF (a HEIC is stored as JPEG)
    received: Kind  # as sent
    size: int  # bytes stored, before encryption
    digest: str  # SHA-256 (hex) of the bytes stored
    key: str
    thumbnail_key: str | None
    width: int | None = None
    height: int | None = None

    @property
    def media_type(self) -> str:
        return self.kind.media_type


def new_key() -> str:
    """A fresh storage key: 128 random bits, fanned out over 256 folders."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}"


class Uploads:
    def __init__(self, files: SealedFiles, *, max_bytes: int = 20_000_000, max_pixels: int = 50_000_000,
                 max_side: int = 4096, thumbnail_side: int = 320, decoders: int = 1,
                 spool_dir: str | None = None) -> None:
        self.files = files
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.max_side = max_side
        self.thumbnail_side = thumbnail_side
        self.spool_dir = spool_dir
        self._decoding = asyncio.Semaphore(decoders)

    async def accept_request(self, request: Request, **kwargs) -> Accepted:
        """The request's body as the file (a raw body, the way tablets and `fetch` send one)."""
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else None
        return await self.accept(request.stream(), declared_length=declared, **kwargs)

    async def accept(self, chunks: AsyncIterable[bytes], *, kinds: Collection[Kind] = ALL_KINDS,
                     limit: int | None = None, field: str = "file", declared_length: int | None = None) -> Accepted:
        """Check, clean and store one upload; the AppError of the first check it fails, with nothing stored."""
        limit = self.max_bytes if limit is None else limit
        kinds = frozenset(kinds)
        if declared_length is not None and declared_length > limit:
            raise too_large(limit, field)
        async with Spool(self.spool_dir) as spool:
            await spool.fill(chunks, limit, field)
            if spool.size == 0:
                raise InvalidInput.field(field, "The file is empty.", "empty")
            received = sniff(spool.head)
            if received is None or received not in kinds:
                raise _unsupported(kinds, field)
            if received.is_image:
                return await self._image(spool, received, field)
            return await self._pdf(spool, field)

    async def _image(self, spool: Spool, received: Kind, field: str) -> Accepted:
        async with self._decoding:
            try:
                image = await asyncio.to_thread(reencode, await spool.read(), received, max_pixels=self.max_pixels,
                                                max_side=self.max_side, thumbnail_side=self.thumbnail_side)
            except ImageRefused as refused:
                raise InvalidInput.field(field, refused.message, refused.code) from None
        key = new_key()
        stored = await self.files.put(key, once(image.data))
        try:
            await self.files.put(key + THUMBNAIL_SUFFIX, once(image.thumbnail))
        except BaseException:
            await asyncio.shield(self.files.delete(key))
            raise
        return Accepted(image.kind, received, stored.size, stored.digest, key, key + THUMBNAIL_SUFFIX,
                        image.width, image.height)

    async def _pdf(self, spool: Spool, field: str) -> Accepted:
        if not await is_pdf(spool.head, spool.tail, spool.size, spool.at):
            raise InvalidInput.field(field, "The file is not a valid PDF document.", "invalid_file")
        key = new_key()
        stored = await self.files.put(key, spool.replay())
        return Accepted(Kind.PDF, Kind.PDF, stored.size, stored.digest, key, None)


def _unsupported(kinds: frozenset[Kind], field: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "The file's content is not of a type accepted here.",
        errors=[{"field": field, "message": f"The file must be one of these types: {described(kinds)}.",
                 "code": "unsupported_type"}],
        headers={"Accept": ", ".join(k.media_type for k in Kind if k in kinds)},
    )


async def asgi_body(receive) -> AsyncIterator[bytes]:
    """A raw ASGI request body as chunks (for a route written as an ASGI app rather than with Request)."""
    from starlette.requests import ClientDisconnect

    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
