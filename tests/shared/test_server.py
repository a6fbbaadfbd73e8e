"""shared/server.py: uvicorn as every process runs it, answering over a real socket.

Joining a response's writes must change nothing a client sees: plain, empty, HEAD, large and
streamed answers arrive whole and in order on a kept-alive connection, and a streamed answer's
first part arrives before its producer has made the rest.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn

from shared import server as haolin_server

BIG = b"x" * 300_000


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/plain":
        body = b'{"ok":true}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(BIG))]})
        await send({"type": "http.response.body", "body": BIG})
    elif path == "/stream":
        # Chunked, the second part only after the client has seen the first (the test's event).
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        await GO_ON.wait()
        await send({"type": "http.response.body", "body": b"second\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


GO_ON = asyncio.Event()


@pytest.fixture
async def running():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = haolin_server.config("unused:main", "127.0.0.1", port)
    settings.update(app=app, factory=False, lifespan="off", log_level="warning")
    srv = uvicorn.Server(uvicorn.Config(**settings))
    GO_ON.clear()
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", GO_ON
    finally:
        srv.should_exit = True
        await task


async def test_answers_arrive_whole_on_a_kept_alive_connection(running):
    url, _ = running
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):
            plain = await client.get("/plain")
            assert plain.status_code == 200 and plain.json() == {"ok": True}
            assert plain.headers["content-length"] == "11"
            empty = await client.get("/empty")
            assert empty.status_code == 204 and empty.content == b""
            head = await client.head("/plain")
            assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "11"
            big = await client.get("/big")
            assert big.status_code == 200 and big.content == BIG


async def test_a_streamed_answer_is_not_held_back(running):
    url, go_on = running
    async with httpx.AsyncClient(base_url=url) as client:
        async with client.stream("GET", "/stream") as response:
            lines = response.aiter_lines()
            # The producer waits for the client to have the first part: held back, this would hang.
            assert await asyncio.wait_for(lines.__anext__(), 5) == "first"
            go_on.set()
            assert [line async for line in lines] == ["second"]


async def test_a_plain_answer_is_one_socket_write():
    writes = []

    class Transport:
        def write(self, data):
            writes.append(data)

        def close(self):
            writes.append("closed")

    loop = asyncio.get_running_loop()
    joined = haolin_server.CoalescingTransport(Transport(), loop)
    joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    joined.write(b"{}")
    assert writes == []
    await asyncio.sleep(0)
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    joined.write(b"x" * haolin_server.FLUSH_AT_BYTES)  # a large write is not held
    assert len(writes) == 2
    joined.write(b"tail")
    joined.close()  # what is pending goes before the close
    assert writes[2:] == [b"tail", "closed"]


SETTLE = """
import asyncio, gc, sys
from shared.app import build_app
from shared.config import ServiceSettings

async def main():
    app = build_app(title="t", service="t", settings=ServiceSettings(), lifespan=None)
    async with app.router.lifespan_context(app):
        print(gc.get_freeze_count())

asyncio.run(main())
"""


@pytest.mark.parametrize("serving, frozen", [("1", True), ("", False)])
def test_a_served_app_sets_its_start_up_heap_aside(serving, frozen):
    """In a process shared.server runs, what the app built by the time it started is frozen (left out
    of the collector's full passes); in a test process, which starts many apps, nothing is."""
    env = {**os.environ, haolin_server.SERVING: serving}
    out = subprocess.run([sys.executable, "-c", SETTLE], env=env, capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    count = int(out.stdout.strip().splitlines()[-1])
    assert (count > 10_000) is frozen, count
