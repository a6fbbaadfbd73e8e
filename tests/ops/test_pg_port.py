"""Which port a run's embedded PostgreSQL takes (ops/pg.py `own_port`): a second checkout on the same
machine (a CI run beside a developer's suite) must start its own server, never borrow the first's, whose
roles and "gone" test databases it would share."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ops import pg
from ops.loopback import free_port
from tests.conftest import STARTED_WITH


def test_the_usual_port_when_nobody_listens_there(monkeypatch, tmp_path: Path):
    usual = free_port()
    monkeypatch.setattr(pg, "DEFAULT_PORT", usual)
    assert pg.own_port(tmp_path / "pg") == usual


def test_another_folders_server_on_the_usual_port_sends_this_one_elsewhere(monkeypatch, tmp_path: Path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        usual = other.getsockname()[1]
        monkeypatch.setattr(pg, "DEFAULT_PORT", usual)
        chosen = pg.own_port(tmp_path / "pg")
        assert chosen != usual
        with socket.socket() as s:
            s.bind(("127.0.0.1", chosen))  # free to take


@pytest.mark.skipif(bool(STARTED_WITH.get("TEST_DATABASE_URL") or STARTED_WITH.get("DATABASE_URL")),
                    reason="the run was given a database of its own: no embedded server of this checkout runs")
def test_the_folders_own_running_server_keeps_its_port(monkeypatch):
    # This run's own server (tests/conftest.py started it, or `make run` of this checkout).
    running = pg.running_port()
    assert running is not None
    monkeypatch.setattr(pg, "DEFAULT_PORT", free_port())
    assert pg.own_port() == running
