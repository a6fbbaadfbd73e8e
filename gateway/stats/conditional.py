"""ETag and If-None-Match for polled JSON answers: a digest of what the answer shows, so a
poller that has it already gets 304 and no body."""

from __future__ import annotations

import hashlib

import orjson
from fastapi import Request, Response


def digest(content: dict) -> str:
    """A strong ETag of the content (keys sorted: equal figures give equal tags)."""
    return '"' + hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32] + '"'


def matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def respond(request: Request, body: bytes, etag: str, cache_control: str) -> Response:
    # Vary: the same URL answers differently for callers with other scopes.
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization"}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
