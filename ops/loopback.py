"""Whether a server listens on a loopback port: how the embedded servers (pg.py, s3.py) tell that
theirs is running; and a port free for one."""

from __future__ import annotations

import socket


def is_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A loopback port no one listens on now (the kernel's choice of an ephemeral one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
