"""Storage on both backends: a folder of this test's own, and a real S3-compatible server.

The S3 server is the embedded SeaweedFS (ops/s3.py), started on demand by the first test that
asks for it, on free ports with its data in .data/s3-test-<pid>/, and stopped (its data removed)
when the run ends. Each test gets its own prefix in the bucket, so tests never see each other's
objects.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ops import s3
from shared.crypto import FieldCipher, generate_key
from shared.storage import LocalStorage, S3Storage, SealedFiles, Storage
from shared.storage.s3 import MIN_PART

DATA = s3.ROOT / ".data"


def _sweep_stale_servers() -> None:
    """Servers and data of earlier runs killed before they cleaned up."""
    for folder in DATA.glob("s3-test-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}") and int(pid) != os.getpid():
            s3.stop(folder, timeout=2)
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[s3.Server]:
    """The embedded S3-compatible server, for this run only."""
    _sweep_stale_servers()
    data = DATA / f"s3-test-{os.getpid()}"
    try:
        yield s3.start(data, s3.free_port())
    finally:
        s3.stop(data, timeout=2)
        shutil.rmtree(data, ignore_errors=True)


def s3_storage(server: s3.Server, prefix: str | None = None, **kwargs) -> S3Storage:
    return S3Storage(server.bucket, prefix=prefix or f"t{secrets.token_hex(6)}", endpoint_url=server.endpoint,
                     access_key_id=server.access_key_id, secret_access_key=server.secret_access_key,
                     part_size=kwargs.pop("part_size", MIN_PART), **kwargs)


@pytest.fixture(params=["local", "s3"])
def backend(request) -> str:
    return request.param


@pytest.fixture
async def storage(backend: str, request, tmp_path: Path) -> AsyncIterator[Storage]:
    """The same tests on local disk and on S3 (the smallest part size, so a few MB go multipart)."""
    if backend == "local":
        store: Storage = LocalStorage(tmp_path / "files")
    else:
        store = s3_storage(request.getfixturevalue("s3_server"))
    async with store:
        yield store


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(f"a:{generate_key()}")


@pytest.fixture
def files(storage: Storage, cipher: FieldCipher) -> SealedFiles:
    return SealedFiles(storage, cipher)


async def raw(storage: Storage, key: str) -> bytes:
    """The bytes at rest, read past the encryption: from disk, or straight from the bucket."""
    if isinstance(storage, LocalStorage):
        return storage.path(key).read_bytes()
    answer = await storage.client.get_object(Bucket=storage.bucket, Key=storage.prefix + key)
    async with answer["Body"] as body:
        return await body.read()


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]
