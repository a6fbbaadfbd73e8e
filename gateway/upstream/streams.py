"""Files through the proxy: an attachment's upload and its download stream through the gateway,
never held whole in its memory (the rest of the proxy buffers: API pages are small).

Which requests: an upload (shared.observability.is_upload, the rule that also gives it its own
body limit) and a GET of an attachment's `/content` or `/thumbnail`. The owning service checks
the token, the scope, the file and the audit, as for any proxied request; the gateway only relays.
One deadline (upstream_timeout_s) covers each wait for the service (connecting, each read), not
the whole transfer, so a large file on a slow line is not cut while it keeps moving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl

from gateway.upstream.clients import Hop
from shared.observability import is_upload
from shared.uploads import asgi_body

CHUNK = 64 * 1024
# Besides the proxy's own: what a download of a stored file carries (shared.uploads.download_headers).
FILE_HEADERS = frozenset({b"content-length", b"x-content-type-options", b"content-security-policy"})


def streamed(scope) -> bool:
    """Is this request an attachment's upload or download?"""
    if is_upload(scope):
        return True
    path = scope["path"]
    return scope["method"] in ("GET", "HEAD") and "/attachments/" in path and path.endswith(("/content", "/thumbnail"))


async def relay_stream(hop: Hop, method: str, url: str, headers: list[tuple[bytes, bytes]], returned: frozenset,
                       timeout_s: float, receive, send) -> None:
    """Relay one request to `url`, its body and the answer's streamed. Errors before the answer starts
    are raised (the proxy maps them to 502/504); after, the connection is cut."""
    keep = returned | FILE_HEADERS

    async def body() -> AsyncIterator[bytes]:
        async for chunk in asgi_body(receive):
            if chunk:
                yield chunk

    upload = method in ("POST", "PUT")
    session = hop.session()
    if session is not None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=hop.extensions["timeout"]["connect"],
                                        sock_read=timeout_s)
        async with session.request(method, yarl.URL(url, encoded=True), data=body() if upload else None,
                                   allow_redirects=False, timeout=timeout, auto_decompress=False,
                                   headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
                                   ) as response:
            out = [(k.lower(), v) for k, v in response.raw_headers if k.lower() in keep]
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            async for chunk in response.content.iter_chunked(CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        return
    async with asyncio.timeout(timeout_s):
        response = await hop.transport.handle_async_request(httpx.Request(
            method, url, headers=headers, content=body() if upload else b"", extensions=hop.extensions))
    try:
        out = [(k.lower(), v) for k, v in response.headers.raw if k.lower() in keep]
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        async for chunk in response.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await response.aclose()
