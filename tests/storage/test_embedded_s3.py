"""The embedded S3 store (ops/s3.py): started like the embedded PostgreSQL, as root too, and found
by `make run` and the operator commands from STORAGE_URL."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from ops import rotate_keys, s3
from shared.storage import once, open_storage


def held(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


class TestLifecycle:
    async def test_start_use_stop_and_start_again_over_the_same_data(self, tmp_path):
        data, port = tmp_path / "s3", s3.free_port()
        env = {"STORAGE_URL": "s3://evidence?endpoint=embedded", "OTHER": "kept"}
        try:
            assert s3.use_embedded(env, data=data, port=port) is True  # started here
            assert env == {"STORAGE_URL": f"s3://evidence?endpoint=http://127.0.0.1:{port}", "OTHER": "kept",
                           "STORAGE_ACCESS_KEY_ID": env["STORAGE_ACCESS_KEY_ID"],
                           "STORAGE_SECRET_ACCESS_KEY": env["STORAGE_SECRET_ACCESS_KEY"]}
            assert stat.S_IMODE((data / "identities.json").stat().st_mode) == 0o600
            assert os.geteuid() != 0 or s3.running_pid(data.absolute()) is not None  # root needs no other user

            async with open_storage(env["STORAGE_URL"], "cases", access_key_id=env["STORAGE_ACCESS_KEY_ID"],
                                    secret_access_key=env["STORAGE_SECRET_ACCESS_KEY"]) as storage:
                await storage.put("ab/kept", once(b"across a restart"))

            pid = s3.running_pid(data.absolute())
            again = {"STORAGE_URL": "s3://evidence?endpoint=embedded"}
            assert s3.use_embedded(again, data=data, port=port) is False  # already running: used, not restarted
            assert again == {k: v for k, v in env.items() if k != "OTHER"}
            assert s3.running_pid(data.absolute()) == pid

            s3.stop(data, timeout=2)
            assert not s3.is_running(port) and not (data / "weed.pid").exists()
            with pytest.raises(s3.S3Error, match="not running"):
                s3.use_embedded({"STORAGE_URL": "s3://evidence?endpoint=embedded"}, start_server=False,
                                data=data, port=port)

            s3.start(data, port, "evidence")  # the same data, the same credentials: the object is there
            async with open_storage(env["STORAGE_URL"], "cases", access_key_id=env["STORAGE_ACCESS_KEY_ID"],
                                    secret_access_key=env["STORAGE_SECRET_ACCESS_KEY"]) as storage:
                assert await storage.read("ab/kept") == b"across a restart"
        finally:
            s3.stop(data, timeout=2)

    def test_taken_ports_are_named_and_nothing_starts(self, tmp_path):
        port = s3.free_port()
        with held(s3.ports(port)["filer"]):
            with pytest.raises(s3.S3Error, match=f"filer {port + 3}.*HAOLIN_S3_PORT"):
                s3.start(tmp_path / "s3", port)
        assert not (tmp_path / "s3" / "weed.pid").exists()

    def test_a_stale_pid_file_names_no_server(self, tmp_path):
        (tmp_path / "weed.pid").write_text(str(os.getpid()))  # alive, but not a weed server on this folder
        assert s3.running_pid(tmp_path) is None
        s3.stop(tmp_path)  # and stop leaves that process alone
        assert not (tmp_path / "weed.pid").exists()


class TestStorageUrl:
    @pytest.mark.parametrize("url,bucket", [
        ("s3://haolin?endpoint=embedded", "haolin"), ("s3://evidence?endpoint=embedded", "evidence"),
        ("s3://haolin?endpoint=http://127.0.0.1:8333", None), ("file:///var/files", None), (None, None), ("", None),
    ])
    def test_which_urls_ask_for_it(self, url, bucket):
        assert s3.wants_embedded(url) == bucket

    def test_an_embedded_url_with_more_is_refused(self):
        with pytest.raises(s3.S3Error):
            s3.wants_embedded("s3://haolin/prefix?endpoint=embedded&region=x")

    async def test_rotate_keys_says_when_the_embedded_store_is_not_running(self, monkeypatch, capsys):
        monkeypatch.setattr(s3, "DEFAULT_PORT", s3.free_port())
        monkeypatch.setenv("STORAGE_URL", "s3://haolin?endpoint=embedded")
        assert await rotate_keys.main(["--check"]) == 2
        assert "not running" in capsys.readouterr().err
