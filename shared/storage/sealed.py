"""Files encrypted at rest with the platform's field keys, streamed both ways.

Each file has its own random 256-bit data key. The file is encrypted with it in chunks
(AES-256-GCM, the STREAM construction: each chunk authenticated on its own, numbered, and the
last one marked, so chunks cannot be reordered, dropped or cut off unnoticed), and the data key
is sealed by the field keys (shared.crypto.FieldCipher, FIELD_ENCRYPTION_KEYS) in a small
object beside the file. Rotating the field key re-seals that small object only: the file's
bytes are never rewritten (`SealedFiles.rotate`, run by `python -m ops.rotate_keys`).

Two objects per file, under the file's key K:

    K       the data:  b"HLF\\x01" | chunk size (uint32, big-endian) | nonce prefix (7 random bytes)
                       | chunk 0 | chunk 1 | ... | last chunk
            chunk i  = AES-256-GCM(data key, nonce = prefix | uint32(i) | 0x00 (0x01 for the last),
                                   aad = the 15 header bytes): ciphertext | 16-byte tag
            Every chunk but the last holds `chunk size` plaintext bytes (64 KiB); the last holds
            0 to `chunk size` (an empty file is one empty last chunk).
    K.key   the seal:  a FieldCipher token "kid:base64(nonce | ciphertext)" of the JSON
            {"v": 1, "dek": base64 data key, "size": plaintext bytes, "sha256": plaintext digest},
            bound to the context "file:K", so a seal moved to another file does not open it.

Reading checks every chunk's tag before its plaintext is given out, then the size and the
SHA-256 against the seal (and the digest the caller kept, if it passes one): a file that does
not match raises FileCorrupt at the end of the stream. The same chunk format, under a key that
lives only in memory, spools uploads (shared/uploads), so a crash leaves no readable plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto import FieldCipher, kid_of
from shared.storage.base import ObjectNotFound, Storage, check_key, once

MAGIC = b"HLF\x01"
HEADER = struct.Struct(">4sI7s")
CHUNK = 64 * 1024
TAG = 16
SEAL_SUFFIX = ".key"


class FileCorrupt(ValueError):
    """Stored bytes that do not decrypt, or whose size or digest is not the one sealed with them."""


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise ValueError("a sealed file holds at most 2**32 chunks")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


async def encrypt_stream(chunks: AsyncIterable[bytes], key: bytes, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """The sealed format of `chunks` under `key` (32 bytes), header first."""
    prefix = os.urandom(7)
    header = HEADER.pack(MAGIC, chunk_size, prefix)
    aead = AESGCM(key)
    yield header
    pending = bytearray()
    index = 0
    async for data in chunks:
        pending += data
        # Keep at least one byte back: the chunk that ends the stream must be marked last.
        while len(pending) > chunk_size:
            with memoryview(pending) as view:
                plain = bytes(view[:chunk_size])
            del pending[:chunk_size]
            yield aead.encrypt(_nonce(prefix, index, False), plain, header)
            index += 1
    yield aead.encrypt(_nonce(prefix, index, True), bytes(pending), header)


async def decrypt_stream(chunks: AsyncIterable[bytes], key: bytes) -> AsyncIterator[bytes]:
    """The plaintext of a sealed stream; FileCorrupt on a wrong key, a changed, missing or reordered chunk."""
    buffer = bytearray()
    header = None
    aead = AESGCM(key)
    index = 0
    async for data in chunks:
        buffer += data
        if header is None:
            if len(buffer) < HEADER.size:
                continue
            header = bytes(buffer[:HEADER.size])
            magic, chunk_size, prefix = HEADER.unpack(header)
            if magic != MAGIC or not 0 < chunk_size <= 2**24:
                raise FileCorrupt("not a sealed file (wrong header)")
            del buffer[:HEADER.size]
            sealed = chunk_size + TAG
        # A full chunk is not the last one while more bytes follow it.
        while len(buffer) > sealed:
            with memoryview(buffer) as view:
                piece = bytes(view[:sealed])
            del buffer[:sealed]
            yield _open(aead, prefix, index, False, piece, header)
            index += 1
    if header is None:
        raise FileCorrupt("not a sealed file (too short)")
    yield _open(aead, prefix, index, True, bytes(buffer), header)


def _open(aead: AESGCM, prefix: bytes, index: int, last: bool, piece: bytes, header: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(prefix, index, last), piece, header)
    except InvalidTag:
        raise FileCorrupt(f"a sealed file's chunk {index} does not decrypt (changed, cut off or another key)") from None


@dataclass(frozen=True)
class Stored:
    """What a sealed put stored: the plaintext's size and SHA-256 (hex)."""

    key: str
    size: int
    digest: str


class SealedFiles:
    """A store whose objects are sealed under the field keys. Keys are the store's (`check_key`)."""

    def __init__(self, storage: Storage, cipher: FieldCipher, *, chunk_size: int = CHUNK) -> None:
        self.storage = storage
        self.cipher = cipher
        self.chunk_size = chunk_size

    @staticmethod
    def seal_key(key: str) -> str:
        return check_key(key) + SEAL_SUFFIX

    @staticmethod
    def _context(key: str) -> str:
        return f"file:{key}"

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        """Encrypt and store the chunks under `key`, then the seal beside it (a reader that finds the
        seal finds the whole file)."""
        if key.endswith(SEAL_SUFFIX):
            raise ValueError(f"a sealed file's key must not end in {SEAL_SUFFIX}")
        data_key = AESGCM.generate_key(256)
        digest = hashlib.sha256()
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        await self.storage.put(check_key(key), encrypt_stream(counted(), data_key, self.chunk_size))
        seal = json.dumps({"v": 1, "dek": base64.b64encode(data_key).decode(), "size": size,
                           "sha256": digest.hexdigest()})
        await self.storage.put(self.seal_key(key), once(self.cipher.encrypt(seal, self._context(key)).encode()))
        return Stored(key, size, digest.hexdigest())

    async def _seal(self, key: str) -> dict:
        try:
            token = (await self.storage.read(self.seal_key(key))).decode()
        except ObjectNotFound:
            raise ObjectNotFound(key) from None
        try:
            return json.loads(self.cipher.decrypt(token, self._context(key)))
        except (InvalidTag, ValueError):
            raise FileCorrupt("a sealed file's key does not open with the field keys") from None

    async def open(self, key: str, *, digest: str | None = None) -> AsyncIterator[bytes]:
        """The plaintext in chunks. ObjectNotFound here, before the first chunk; FileCorrupt while
        streaming, at the latest after the last chunk, when the bytes are not the ones stored
        (nor, with `digest`, the ones the caller recorded)."""
        seal = await self._seal(key)
        if digest is not None and digest != seal["sha256"]:
            raise FileCorrupt("the stored file is not the one recorded (digest differs)")
        data = await self.storage.get(check_key(key))
        return self._checked(data, seal)

    async def _checked(self, data: AsyncIterator[bytes], seal: dict) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in decrypt_stream(data, base64.b64decode(seal["dek"])):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
        finally:
            if hasattr(data, "aclose"):
                await data.aclose()
        if size != seal["size"] or digest.hexdigest() != seal["sha256"]:
            raise FileCorrupt("the stored file's size or digest is not the one sealed with it")

    async def read(self, key: str, *, digest: str | None = None) -> bytes:
        """A small file whole (a thumbnail)."""
        return b"".join([chunk async for chunk in await self.open(key, digest=digest)])

    async def exists(self, key: str) -> bool:
        return await self.storage.exists(self.seal_key(key)) and await self.storage.exists(key)

    async def delete(self, key: str) -> None:
        """The seal first: without it the data is unreadable at once, even if deleting the data fails."""
        await self.storage.delete(self.seal_key(key))
        await self.storage.delete(check_key(key))

    async def stale(self) -> int:
        """How many files' seals are under a key other than the current one."""
        count = 0
        async for seal_key in self._seals():
            if kid_of((await self.storage.read(seal_key)).decode()) != self.cipher.current_kid:
                count += 1
        return count

    async def rotate(self) -> int:
        """Re-seal every file's data key under the current field key; answers how many were re-sealed.
        Safe while the platform serves and to run again: the data key does not change, so a seal
        re-sealed twice (two rotations at once) opens either way."""
        count = 0
        async for seal_key in self._seals():
            key = seal_key.removesuffix(SEAL_SUFFIX)
            try:
                token = (await self.storage.read(seal_key)).decode()
            except ObjectNotFound:
                continue  # deleted meanwhile
            if kid_of(token) == self.cipher.current_kid:
                continue
            await self.storage.put(seal_key, once(self.cipher.reseal(token, self._context(key)).encode()))
            count += 1
            if not await self.storage.exists(key):
                # The file was deleted while we re-sealed it: do not leave its data key behind.
                await self.storage.delete(seal_key)
        return count

    async def _seals(self) -> AsyncIterator[str]:
        async for key in self.storage.keys():
            if key.endswith(SEAL_SUFFIX):
                yield key
