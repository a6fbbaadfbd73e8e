"""Whether a server listens on a loopback port: how the embedded servers (pg.py, s3.py) tell that
theirs is running."""

from __future__ import annotations

import socket


def is_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
