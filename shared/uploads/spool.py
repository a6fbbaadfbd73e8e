"""An upload's bytes on disk while they are checked, never whole in memory and never readable
after a crash.

The file is anonymous (tempfile.TemporaryFile: no name in any folder; the kernel frees it when it
is closed or the process dies) and its content is sealed (shared/storage/sealed.py's chunk format)
under a random key that exists only in this process's memory. Bytes past the limit are not
written: the upload stops there with 413.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import aclosing
from types import TracebackType

from shared.errors import PayloadTooLarge
from shared.storage.sealed import decrypt_stream, encrypt_stream
from shared.uploads.kinds import HEAD

READ_CHUNK = 256 * 1024
TAIL = 1024


def too_large(limit: int, field: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than {limit} bytes.",
                           errors=[{"field": field, "message": f"at most {limit} bytes", "code": "too_large"}])


class Spool:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory
        self.size = 0
        self.head = b""
        self.tail = b""
        self._key = os.urandom(32)
        self._file = None

    async def __aenter__(self) -> Spool:
        self._file = await asyncio.to_thread(tempfile.TemporaryFile, dir=self.directory)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self._file.close)

    async def fill(self, chunks: AsyncIterable[bytes], limit: int, field: str) -> None:
        """Take the upload; PayloadTooLarge as soon as it passes `limit` bytes."""
        head, tail = bytearray(), bytearray()

        async def counted() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                self.size += len(chunk)
                if self.size > limit:
                    raise too_large(limit, field)
                if len(head) < HEAD:
                    head.extend(chunk[:HEAD - len(head)])
                tail.extend(chunk[-TAIL:])
                del tail[:-TAIL]
                yield chunk

        async for sealed in encrypt_stream(counted(), self._key):
            await asyncio.to_thread(self._file.write, sealed)
        await asyncio.to_thread(self._file.flush)
        self.head, self.tail = bytes(head), bytes(tail)

    async def replay(self) -> AsyncIterator[bytes]:
        """The upload's bytes again, from the start."""
        await asyncio.to_thread(self._file.seek, 0)

        async def sealed() -> AsyncIterator[bytes]:
            while chunk := await asyncio.to_thread(self._file.read, READ_CHUNK):
                yield chunk

        async for chunk in decrypt_stream(sealed(), self._key):
            yield chunk

    async def read(self) -> bytes:
        """The whole upload (an image, which is decoded whole anyway)."""
        return b"".join([chunk async for chunk in self.replay()])

    async def at(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer at the end), read through from the start."""
        found, position = bytearray(), 0
        async with aclosing(self.replay()) as chunks:
            async for chunk in chunks:
                start = max(offset - position, 0)
                if start < len(chunk):
                    found += chunk[start:start + length - len(found)]
                position += len(chunk)
                if len(found) >= length:
                    break
        return bytes(found)
