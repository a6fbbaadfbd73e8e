"""The dashboard page at /dashboard: plain HTML, CSS and JS served by the gateway, no build step.

The page talks only to this origin's public API (login, stations, /v1/stats/*, projects), so it
works on a station's LAN with no internet: the charting library (Chart.js) is the copy the
`chartkick` PyPI package ships, served from here. Asset URLs carry a digest of their content,
so browsers keep them for a year and fetch a new copy exactly when an upgrade changes them.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request, Response

from shared.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
# The page needs nothing from another origin; inline scripts and styles are not allowed either.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                # The page itself is tiny: revalidate it so a new release's asset digests reach the browser.
                "Cache-Control": "no-cache"}
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str


def _asset(name: str, body: bytes) -> Asset:
    # Compressed once at first use: Chart.js is about 1 MB as shipped, about a fifth of that gzipped.
    return Asset(body=body, gzipped=gzip.compress(body, 9, mtime=0), media_type=MEDIA[Path(name).suffix],
                 digest=hashlib.sha256(body).hexdigest()[:16])


@cache
def assets() -> dict[str, Asset]:
    """Every asset the page loads, by the name the page uses."""
    chart = resources.files("chartkick") / "django" / "static" / "chartkick" / "Chart.bundle.js"
    found = {"chart.js": _asset("chart.js", chart.read_bytes())}
    for name in ("app.js", "app.css"):
        found[name] = _asset(name, (STATIC / name).read_bytes())
    return found


@cache
def page() -> bytes:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    for name, asset in assets().items():
        html = html.replace(f'"{name}"', f'"/dashboard/assets/{asset.digest}/{name}"')
    return html.encode()


@router.get("/dashboard")
async def dashboard() -> Response:
    """The dashboard page."""
    return Response(page(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard/assets/{digest}/{name}")
async def asset(digest: str, name: str, request: Request) -> Response:
    """A script or stylesheet of the page, cached for a year under the digest of its content."""
    found = assets().get(name)
    if found is None or found.digest != digest:
        raise NotFound("No such asset.")
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=found.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)
