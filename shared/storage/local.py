"""Files on local disk (the default: .data/files/ under the checkout).

A put writes a temporary file in the store's own `.tmp/` folder (the same file system, so the
rename is atomic), flushes it to disk, then renames it over the key's path: a reader sees the old
object or the new one, never half of one, and a crash leaves only a temporary file, swept at the
next start. Paths come from `check_key` keys alone, and are checked to stay under the root.
Disk calls run in worker threads so a slow disk does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from shared.storage.base import ObjectInfo, ObjectNotFound, Storage, check_key, check_prefix

READ_CHUNK = 256 * 1024
TMP = ".tmp"
# A temporary file this old belongs to a put that died with its process.
STALE_TMP_S = 24 * 3600


class LocalStorage(Storage):
    def __init__(self, root: Path | str, *, read_chunk: int = READ_CHUNK) -> None:
        self.root = Path(root).absolute()
        self.read_chunk = read_chunk

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    async def start(self) -> None:
        await asyncio.to_thread(self._sweep)

    def _sweep(self) -> None:
        # Folders are made by the first put: a store only read (a key rotation's check) creates nothing.
        if not (self.root / TMP).is_dir():
            return
        now = time.time()
        for leftover in (self.root / TMP).iterdir():
            try:
                if now - leftover.stat().st_mtime > STALE_TMP_S:
                    leftover.unlink()
            except FileNotFoundError:
                pass

    def path(self, key: str) -> Path:
        path = self.root / check_key(key)
        # check_key already keeps keys inside; this holds even if that rule ever loosens.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError("a storage key must stay inside the store")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        target = self.path(key)
        tmp = self.root / TMP / f"{secrets.token_hex(16)}"
        file = await asyncio.to_thread(_create, tmp)
        size = 0
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(file.write, chunk)
                    size += len(chunk)
            await asyncio.to_thread(_commit, file, tmp, target)
        except BaseException:
            await asyncio.to_thread(_discard, file, tmp)
            raise
        return size

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            file = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        return self._chunks(file)

    async def _chunks(self, file) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(file.read, self.read_chunk):
                yield chunk
        finally:
            file.close()

    async def stat(self, key: str) -> ObjectInfo | None:
        size = await asyncio.to_thread(_size, self.path(key))
        return None if size is None else ObjectInfo(key, size)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        # Walk only the folder the prefix names, not the whole store.
        folder = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        found = await asyncio.to_thread(_walk, folder, self.root)
        for key in found:
            if key.startswith(prefix):
                yield key


def _create(tmp: Path):
    tmp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _commit(file, tmp: Path, target: Path) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(tmp, target)
    # The rename itself is durable only once its folder is flushed.
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _size(path: Path) -> int | None:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _discard(file, tmp: Path) -> None:
    file.close()
    tmp.unlink(missing_ok=True)


def _walk(folder: Path, root: Path) -> list[str]:
    if not folder.is_dir():
        return []
    keys = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath).relative_to(root)
        keys += [str(base / name) if str(base) != "." else name for name in filenames if not name.startswith(".")]
    return keys
