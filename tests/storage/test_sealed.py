"""Files encrypted at rest: round trips, what lies on disk or in the bucket, tampering, key rotation."""

from __future__ import annotations

import hashlib
import os

import pytest

from ops import rotate_keys
from shared.crypto import FieldCipher, generate_key, kid_of
from shared.storage import FileCorrupt, ObjectNotFound, SealedFiles, Storage, once, open_storage
from shared.storage.sealed import CHUNK, HEADER, TAG, decrypt_stream, encrypt_stream
from tests.storage.conftest import chunks_of, raw

SENTINEL = b"%PDF-1.7 SENTINEL consent form of Zhang Xiuying "


class TestRoundTrip:
    @pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 1_000_003])
    async def test_every_size_comes_back(self, files: SealedFiles, size: int):
        data = os.urandom(size)
        stored = await files.put("ab/file", chunks_of(data, 50_000))
        assert (stored.size, stored.digest) == (size, hashlib.sha256(data).hexdigest())
        assert await files.read("ab/file", digest=stored.digest) == data

    async def test_the_bytes_at_rest_are_not_the_plaintext(self, files: SealedFiles, storage: Storage):
        data = SENTINEL * 5000
        await files.put("ab/file", chunks_of(data))
        at_rest = await raw(storage, "ab/file")
        assert b"%PDF" not in at_rest and b"SENTINEL" not in at_rest
        chunks = -(-len(data) // CHUNK)
        assert len(at_rest) == HEADER.size + len(data) + chunks * TAG
        seal = await raw(storage, "ab/file.key")
        assert kid_of(seal.decode()) == "a" and b"dek" not in seal and b"sha256" not in seal

    async def test_missing(self, files: SealedFiles):
        with pytest.raises(ObjectNotFound):
            await files.open("no/file")
        assert not await files.exists("no/file")

    async def test_delete_removes_the_seal_and_the_data(self, files: SealedFiles, storage: Storage):
        await files.put("ab/file", once(b"x"))
        assert await files.exists("ab/file")
        await files.delete("ab/file")
        assert [k async for k in storage.keys()] == []

    async def test_a_failed_put_stores_nothing(self, files: SealedFiles, storage: Storage):
        async def broken():
            yield os.urandom(6_000_000)
            raise ConnectionResetError

        with pytest.raises(ConnectionResetError):
            await files.put("ab/file", broken())
        assert [k async for k in storage.keys()] == []


class TestTampering:
    async def _stored(self, files: SealedFiles, storage: Storage) -> bytes:
        await files.put("ab/file", chunks_of(os.urandom(3 * CHUNK + 10)))
        return await raw(storage, "ab/file")

    @pytest.mark.parametrize("change", ["flip a byte", "cut the last chunk", "swap two chunks", "drop a chunk"])
    async def test_changed_bytes_never_come_out_as_the_file(self, files: SealedFiles, storage: Storage, change):
        at_rest = await self._stored(files, storage)
        sealed = CHUNK + TAG
        body = [at_rest[HEADER.size + i * sealed:HEADER.size + (i + 1) * sealed] for i in range(4)]
        changed = {
            "flip a byte": at_rest[:HEADER.size + 100] + bytes([at_rest[HEADER.size + 100] ^ 1])
            + at_rest[HEADER.size + 101:],
            "cut the last chunk": at_rest[:HEADER.size] + b"".join(body[:3]),
            "swap two chunks": at_rest[:HEADER.size] + body[1] + body[0] + body[2] + body[3],
            "drop a chunk": at_rest[:HEADER.size] + body[0] + body[2] + body[3],
        }[change]
        await storage.put("ab/file", once(changed))
        with pytest.raises(FileCorrupt):
            await files.read("ab/file")

    async def test_a_seal_moved_to_another_file_does_not_open_it(self, files: SealedFiles, storage: Storage):
        await files.put("ab/one", once(b"one"))
        await files.put("ab/two", once(b"two"))
        await storage.put("ab/two.key", once(await raw(storage, "ab/one.key")))
        with pytest.raises(FileCorrupt):
            await files.open("ab/two")

    async def test_a_digest_other_than_the_recorded_one_is_refused_before_any_byte(self, files: SealedFiles):
        await files.put("ab/file", once(b"the file"))
        with pytest.raises(FileCorrupt):
            await files.open("ab/file", digest=hashlib.sha256(b"another file").hexdigest())

    async def test_wrong_key(self):
        sealed = b"".join([c async for c in encrypt_stream(chunks_of(b"x" * 200_000), os.urandom(32))])
        with pytest.raises(FileCorrupt):
            [c async for c in decrypt_stream(chunks_of(sealed, 777), os.urandom(32))]


class TestRotation:
    async def test_a_to_b_reseals_only_the_data_keys(self, storage: Storage):
        key_a, key_b = f"a:{generate_key()}", f"b:{generate_key()}"
        old = SealedFiles(storage, FieldCipher(key_a))
        contents = {f"ab/f{i}": os.urandom(100_000 + i) for i in range(3)}
        for key, data in contents.items():
            await old.put(key, chunks_of(data))
        before = {key: await raw(storage, key) for key in contents}

        both = SealedFiles(storage, FieldCipher(f"{key_b},{key_a}"))
        assert await both.stale() == 3
        assert await both.rotate() == 3
        assert await both.stale() == 0 and await both.rotate() == 0
        assert {key: await raw(storage, key) for key in contents} == before  # the files' bytes untouched
        assert {kid_of((await raw(storage, key + ".key")).decode()) for key in contents} == {"b"}

        only_b = SealedFiles(storage, FieldCipher(key_b))  # key A removed: every file still opens
        for key, data in contents.items():
            assert await only_b.read(key) == data

    async def test_a_file_deleted_while_rotating_leaves_no_data_key(self, storage: Storage):
        key_a = f"a:{generate_key()}"
        await SealedFiles(storage, FieldCipher(key_a)).put("ab/gone", once(b"x"))
        await storage.delete("ab/gone")  # the data went; its seal was read just before
        assert await SealedFiles(storage, FieldCipher(f"b:{generate_key()},{key_a}")).rotate() == 1
        assert [k async for k in storage.keys()] == []

    async def test_the_rotate_keys_command_covers_files(self, database_url, tmp_path, monkeypatch, capsys):
        """`python -m ops.rotate_keys` and `--check`, with each service's files in STORAGE_URL."""
        key_a, key_b = f"a:{generate_key()}", f"b:{generate_key()}"
        monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}")
        async with open_storage(f"file://{tmp_path}", "cases") as storage:
            await SealedFiles(storage, FieldCipher(key_a)).put("ab/consent", once(SENTINEL))
        monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", f"{key_b},{key_a}")
        for name in ("CASES", "PROJECTS", "VOLUNTEERS"):
            monkeypatch.delenv(f"{name}_FIELD_ENCRYPTION_KEYS", raising=False)

        assert await rotate_keys.main(["--check"]) == 1
        assert "cases files: 1 under another key (key b)" in capsys.readouterr().out
        assert await rotate_keys.main([]) == 0
        assert "cases files: 1 rewritten (key b)" in capsys.readouterr().out
        assert await rotate_keys.main(["--check"]) == 0
        async with open_storage(f"file://{tmp_path}", "cases") as storage:
            assert await SealedFiles(storage, FieldCipher(key_b)).read("ab/consent") == SENTINEL
        assert not (tmp_path / "projects").exists()  # checking a service without files made no folder
