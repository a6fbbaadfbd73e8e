"""One storage interface, two backends: each test runs on local disk and on the real S3 server."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared.storage import (DEFAULT_ROOT, LocalStorage, ObjectInfo, ObjectNotFound, S3Storage, Storage, StorageError,
                            check_key, once, open_storage)
from tests.storage.conftest import chunks_of, s3_storage


class Boom(Exception):
    pass


async def failing_after(data: bytes, chunk: int = 1 << 20):
    """The chunks of `data`, then a failure, as a size limit or a dropped connection ends a body."""
    async for piece in chunks_of(data, chunk):
        yield piece
    raise Boom


class TestPutGet:
    async def test_round_trip(self, storage: Storage):
        assert await storage.put("ab/one", once(b"hello")) == 5
        assert b"".join([c async for c in await storage.get("ab/one")]) == b"hello"
        assert await storage.read("ab/one") == b"hello"

    async def test_empty_object(self, storage: Storage):
        assert await storage.put("empty", once(b"")) == 0
        assert await storage.read("empty") == b""
        assert await storage.stat("empty") == ObjectInfo("empty", 0)

    async def test_large_object_streamed_both_ways(self, storage: Storage):
        """12 MB: three parts on S3 (5 MiB parts), chunks of 100 kB in, chunks out."""
        data = os.urandom(12_000_000)
        assert await storage.put("big", chunks_of(data)) == len(data)
        got = [c async for c in await storage.get("big")]
        assert len(got) > 1 and max(map(len, got)) <= 1 << 20
        assert b"".join(got) == data
        assert await storage.stat("big") == ObjectInfo("big", len(data))

    async def test_put_replaces(self, storage: Storage):
        await storage.put("k", once(b"first"))
        await storage.put("k", once(b"second"))
        assert await storage.read("k") == b"second"

    async def test_missing_object_raises_before_the_first_chunk(self, storage: Storage):
        with pytest.raises(ObjectNotFound):
            await storage.get("no/such")
        assert await storage.stat("no/such") is None
        assert not await storage.exists("no/such")


class TestFailedPut:
    async def test_nothing_stored(self, storage: Storage):
        with pytest.raises(Boom):
            await storage.put("new", failing_after(os.urandom(11_000_000)))
        assert not await storage.exists("new")
        assert [k async for k in storage.keys()] == []

    async def test_the_old_object_stays(self, storage: Storage):
        await storage.put("kept", once(b"old"))
        with pytest.raises(Boom):
            await storage.put("kept", failing_after(os.urandom(6_000_000)))
        assert await storage.read("kept") == b"old"

    async def test_no_parts_or_temporary_files_left(self, storage: Storage):
        with pytest.raises(Boom):
            await storage.put("new", failing_after(os.urandom(11_000_000)))
        if isinstance(storage, S3Storage):
            uploads = await storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=storage.prefix)
            assert uploads.get("Uploads", []) == []
        else:
            assert list((storage.root / ".tmp").iterdir()) == []


class TestDeleteAndList:
    async def test_delete(self, storage: Storage):
        await storage.put("gone", once(b"x"))
        await storage.delete("gone")
        assert not await storage.exists("gone")
        await storage.delete("gone")  # again: nothing to do

    async def test_keys(self, storage: Storage):
        for key in ("a1/x", "a1/y", "a2/z", "top"):
            await storage.put(key, once(b"."))
        assert sorted([k async for k in storage.keys()]) == ["a1/x", "a1/y", "a2/z", "top"]
        assert sorted([k async for k in storage.keys("a1/")]) == ["a1/x", "a1/y"]
        assert [k async for k in storage.keys("no/")] == []


BAD_KEYS = ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "a/./b", ".hidden", "a/", "", "UPPER",
            "a\x00b", "a\nb", "名字", "a b", "a\\b", "x" * 600, ".tmp/x"]


class TestKeys:
    @pytest.mark.parametrize("key", BAD_KEYS)
    async def test_a_key_the_platform_could_not_have_made_is_refused(self, storage: Storage, key: str):
        with pytest.raises(ValueError):
            await storage.put(key, once(b"x"))
        with pytest.raises(ValueError):
            await storage.get(key)
        with pytest.raises(ValueError):
            await storage.delete(key)

    def test_good_keys(self):
        for key in ("ab/0123456789abcdef", "cases/ab/cd-thumb", "x.key", "a_b/c-d.e"):
            assert check_key(key) == key


class TestLocalDisk:
    async def test_files_are_private_and_under_the_root(self, tmp_path: Path):
        async with LocalStorage(tmp_path / "files") as store:
            await store.put("ab/cd", once(b"secret"))
            path = tmp_path / "files" / "ab" / "cd"
            assert path.read_bytes() == b"secret"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert list((tmp_path / "files" / ".tmp").iterdir()) == []

    async def test_a_stale_temporary_file_is_swept_at_start(self, tmp_path: Path):
        leftover = tmp_path / "files" / ".tmp" / "dead"
        leftover.parent.mkdir(parents=True)
        leftover.write_bytes(b"half a file")
        os.utime(leftover, (1, 1))
        fresh = leftover.with_name("writing")
        fresh.write_bytes(b"another put, under way")
        async with LocalStorage(tmp_path / "files") as store:
            assert not leftover.exists() and fresh.exists()
            assert [k async for k in store.keys()] == []


class TestS3:
    async def test_wrong_credentials_name_no_secret(self, s3_server):
        store = S3Storage(s3_server.bucket, endpoint_url=s3_server.endpoint, access_key_id=s3_server.access_key_id,
                          secret_access_key="not-the-secret")
        async with store:
            with pytest.raises(StorageError) as caught:
                await store.put("k", once(b"x"))
        assert "SignatureDoesNotMatch" in str(caught.value)
        assert "not-the-secret" not in str(caught.value) and "not-the-secret" not in repr(store)

    async def test_prefixes_keep_stores_apart(self, s3_server):
        async with s3_storage(s3_server, "one") as one, s3_storage(s3_server, "two") as two:
            await one.put("k", once(b"1"))
            assert not await two.exists("k")
            assert [k async for k in one.keys()] == ["k"]


class TestStorageUrl:
    def test_default_is_local_disk_under_data(self):
        store = open_storage(None, "cases")
        assert isinstance(store, LocalStorage) and store.root == DEFAULT_ROOT / "cases"
        assert DEFAULT_ROOT.parts[-2:] == (".data", "files")

    def test_a_folder(self):
        store = open_storage("file:///var/lib/haolin/files", "projects")
        assert isinstance(store, LocalStorage) and store.root == Path("/var/lib/haolin/files/projects")

    def test_s3(self):
        store = open_storage("s3://evidence/haolin?endpoint=http://127.0.0.1:8333&region=cn-north-1&part_mb=16",
                             "volunteers", access_key_id="id", secret_access_key="secret")
        assert isinstance(store, S3Storage)
        assert (store.bucket, store.prefix, store.endpoint_url, store.region, store.part_size) == (
            "evidence", "haolin/volunteers/", "http://127.0.0.1:8333", "cn-north-1", 16 * 1024 * 1024)
        assert "secret" not in repr(store)

    @pytest.mark.parametrize("url", ["file:relative/path", "s3://", "s3://key:secret@bucket", "s3://b?part_mb=1",
                                     "s3://b?endpont=http://x", "s3://b?addressing=weird", "ftp://x", "/var/files"])
    def test_bad_urls_say_what_is_expected(self, url: str):
        with pytest.raises(ValueError) as caught:
            open_storage(url, "cases")
        assert "secret" not in str(caught.value)
