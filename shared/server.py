"""How every process of the platform serves HTTP: uvicorn, configured here once.

    python -m shared.server gateway.app:main --host 0.0.0.0 --port 8000 [--workers 2]

`make run` (ops/run.py), the Dockerfile, docker-compose.yml, the test platform and the bench all
start the processes this way. It is uvicorn with uvloop and httptools and these settings fixed:
- no proxy headers: uvicorn would otherwise take the client's address from X-Forwarded-For
  whenever the peer is on loopback, a header anyone can send; each process decides itself whom to
  believe (TRUSTED_PROXIES, shared/proxies.py);
- no access log: the processes log each request themselves, with its request id
  (shared/observability.py);
- each response leaves in one socket write instead of two. uvicorn writes a response's head as
  soon as the app starts it and the body when it comes, two packets where one would do; on
  loopback every send also runs the receiver's TCP work. Writes made in the same turn of the event
  loop are joined and sent at its end (`CoalescingTransport`): a plain response's head and body
  are always made in the same turn. docs/performance.md has what it saves;
- once the app has started, what it has built is set aside from the garbage collector's full
  passes (`settle_heap`);
- idle client connections are kept 75 s, not uvicorn's 5 (`KEEP_ALIVE_S`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Set by main() for the process and the workers it spawns: the app runs as a server, not in a test.
SERVING = "HAOLIN_SERVING"
# A streamed response whose producer never yields to the loop is still sent in bounded pieces.
FLUSH_AT_BYTES = 64 * 1024


class CoalescingTransport:
    """The connection's transport, with the writes of one loop turn joined into one."""

    __slots__ = ("_transport", "_loop", "_pending", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending, self._size = [data], len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._size += len(data)
        if self._size >= FLUSH_AT_BYTES:
            self.flush()

    def flush(self) -> None:
        pending = self._pending
        if pending:
            self._pending = None
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        # Everything else (is_closing, get_extra_info, pause_reading...) is the transport's own.
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(CoalescingTransport(transport, self.loop))


def settle_heap() -> None:
    """Called by every app once it has started (shared/app.py): in a process this module serves,
    what the process has built so far (modules, the app and its routes, schemas, pools) is set
    aside from the garbage collector's full passes. A service holds about 430,000 such objects, and
    each full pass walked them all: at the cases service that was about a tenth of a read by id's
    CPU, in pauses of up to a few hundred milliseconds (docs/performance.md). What is garbage already
    is collected first, so nothing that could be freed is kept. Not in tests, which start many apps
    in one process."""
    if os.environ.get(SERVING):
        gc.collect()
        gc.freeze()


# How long an idle client connection is kept open (uvicorn's default is 5 s). A tablet told to come
# back after a 503's Retry-After (up to 30 s, gateway/sync/admission.py) finds its connection still
# there, instead of racing the server's close: in the province's storm, clients whose next request
# crossed that close were cut off (ServerDisconnectedError, connection reset). The gateway's own
# pool to the services expires its idle connections sooner (gateway/upstream/clients.py).
KEEP_ALIVE_S = 75


def config(app: str, host: str, port: int, workers: int = 1, log_level: str = "info") -> dict:
    """uvicorn.run's arguments for one process (`app`: "module:factory")."""
    return {"app": app, "factory": True, "host": host, "port": port, "workers": workers, "loop": "uvloop",
            "http": HttpProtocol, "proxy_headers": False, "access_log": False, "log_level": log_level,
            "timeout_keep_alive": KEEP_ALIVE_S}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help='the process\'s app factory, e.g. "gateway.app:main"')
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers on the one port")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    os.environ[SERVING] = "1"
    uvicorn.run(**config(args.app, args.host, args.port, args.workers, args.log_level))


if __name__ == "__main__":
    main()
