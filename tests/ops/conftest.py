"""Fixtures for the operator CLI: the gateway's in-process fixtures, and a way to run `haolin`
against them.

A command runs in a worker thread, on its own event loop (it calls asyncio.run, as from a
shell), with its own connections to the test database. Its HTTP requests are carried over to
the in-process apps on the test's loop by LoopBridge.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.cli.context import CliState
from tests.fixtures.gateway import FAST_HASHING


class LoopBridge(httpx.AsyncBaseTransport):
    """A transport for a client on another thread's loop that sends each request through
    `client` on `loop` (where the in-process app and its database connections live)."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    async def _forward(self, method: str, target: str, headers: list, body: bytes) -> httpx.Response:
        reply = await self.client.request(method, target, headers=headers, content=body)
        # The body is already decoded: pass it on without the headers that describe the wire form.
        kept = [(k, v) for k, v in reply.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(reply.status_code, headers=kept, content=reply.content)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("host", "content-length")]
        future = asyncio.run_coroutine_threadsafe(
            self._forward(request.method, request.url.raw_path.decode(), headers, body), self.loop)
        return await asyncio.wrap_future(future)


@pytest.fixture
def fast_hashing(monkeypatch):
    """The CLI reads the gateway's settings from the environment, as in production."""
    for name, value in FAST_HASHING.items():
        monkeypatch.setenv(f"GATEWAY_{name.upper()}", str(value))


@pytest.fixture
def haolin(fast_hashing):
    """await haolin(*args, app=None, env=None, input=None) -> click Result; `app` (an httpx client on an
    in-process app) receives the command's HTTP requests."""
    runner = CliRunner()

    async def invoke(*args: str, app_client: httpx.AsyncClient | None = None, env: dict | None = None,
                     input: str | None = None):
        state = CliState()
        if app_client is not None:
            state.transport = LoopBridge(app_client, asyncio.get_running_loop())
        return await asyncio.to_thread(runner.invoke, app, list(args), obj=state, env=env, input=input)

    return invoke
