"""The one interface every file store answers: put and get streamed, stat, delete, list.

A key is a name the platform makes itself (shared/uploads makes random ones), never a
name a user sent: `check_key` refuses anything but lowercase letters, digits and single
`.`, `_`, `-` inside `/`-separated segments, so no key can climb out of a folder (`..`),
start at the root, or hide a control character, whatever backend holds it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

_SEGMENT = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
MAX_KEY_LENGTH = 512


class StorageError(RuntimeError):
    """The store failed (unreachable, refused the credentials, full). The message names no file content."""


class ObjectNotFound(KeyError):
    """No object under this key."""


def check_key(key: str) -> str:
    """The key itself when it is one the platform could have made; ValueError otherwise."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError("a storage key is lowercase letters, digits and single '.', '_', '-' "
                         "in '/'-separated segments")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key's beginning (a folder ends with '/')."""
    if prefix and not _KEY.fullmatch(prefix.rstrip("/")):
        raise ValueError(f"not a storage prefix: {prefix!r}")
    return prefix


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class Storage(ABC):
    """Objects by key. Writes are whole or nothing: a `put` whose chunks fail midway (a size limit
    raised by the caller's iterator, a lost connection) leaves the key as it was."""

    async def start(self) -> None:
        """Open what the store needs (folders, connections); called once, in the lifespan."""

    async def close(self) -> None:
        """Release connections."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the chunks under `key` (replacing what was there, atomically); answers the size."""

    @abstractmethod
    async def get(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks. Raises ObjectNotFound here, before the first chunk, so that a
        handler can answer 404 before it starts a response. Iterate it to the end or `aclose()` it."""

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's size, or None when there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    @abstractmethod
    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key beginning with `prefix`, in no promised order."""

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def read(self, key: str) -> bytes:
        """A small object whole (a sealed data key, a thumbnail): never a file of unbounded size."""
        return b"".join([chunk async for chunk in await self.get(key)])


async def once(data: bytes) -> AsyncIterator[bytes]:
    """`data` as the one chunk of a stream, for `put`."""
    yield data
