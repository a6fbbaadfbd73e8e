"""The running platform's public API, for the commands that need it (`demo`, `report`)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import httpx
import typer

from ops.cli.context import CliError, CliState


def default_url() -> str:
    """HAOLIN_URL, else the gateway of the running `make run` (.data/run.json), else its default port."""
    from ops import runfile

    running = runfile.read()
    if os.environ.get("HAOLIN_URL") or running is None:
        return os.environ.get("HAOLIN_URL") or f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT') or 8000}"
    return running.gateway_url


UrlOption = Annotated[str, typer.Option("--url", help="The gateway (env HAOLIN_URL; default the one the running "
                                                      "`make run` serves)", default_factory=default_url,
                                        show_default=False)]


def client(state: CliState | None, url: str, timeout_s: float = 60.0) -> httpx.AsyncClient:
    transport = state.transport if state is not None else None
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=timeout_s)


def problem(reply: httpx.Response) -> str:
    """The problem+json an error answer carries, as one line per field."""
    try:
        body = reply.json()
    except ValueError:
        return f"HTTP {reply.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {reply.status_code}"
    text = f"HTTP {reply.status_code}: {body.get('detail') or body.get('title') or ''}".rstrip(": ")
    for item in body.get("errors") or []:
        if isinstance(item, dict) and item.get("field"):
            text += f"\n  {item['field']}: {item.get('message', '')}"
    return text


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """Bearer headers for a user; waits out the login rate limit (429 with Retry-After)."""
    for _ in range(10):
        try:
            reply = await http.post("/v1/auth/token", data={"username": username, "password": password})
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the gateway at {http.base_url} ({type(exc).__name__}); "
                           "is `make run` running? (--url or HAOLIN_URL to point elsewhere)") from None
        if reply.status_code == 429:
            await asyncio.sleep(float(reply.headers.get("Retry-After", "5")))
            continue
        if reply.status_code != 200:
            raise CliError(f"login as {username} failed: {problem(reply)}")
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}
    raise CliError(f"login as {username}: still rate-limited")


def password_from_env_or_prompt(username: str) -> str:
    return os.environ.get("HAOLIN_PASSWORD") or typer.prompt(f"Password for {username}", hide_input=True)


async def all_pages(http: httpx.AsyncClient, path: str, headers: dict, **params: Any) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        reply = await http.get(path, params=query, headers=headers)
        if reply.status_code != 200:
            raise CliError(f"GET {path}: {problem(reply)}")
        page = reply.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def station_id(http: httpx.AsyncClient, headers: dict, ref: str) -> int:
    """A division code (or id) to the station id, looked up within the user's own subtree."""
    me = await http.get("/v1/me", headers=headers)
    if me.status_code != 200:
        raise CliError(f"GET /v1/me: {problem(me)}")
    scope = await all_pages(http, f"/v1/stations/{me.json()['station_id']}/subtree", headers)
    for station in scope:
        if station.get("code") == ref:
            return station["id"]
    if ref.isdigit() and any(s["id"] == int(ref) for s in scope):
        return int(ref)
    raise CliError(f"no station with code or id {ref} in {me.json()['username']}'s scope")
