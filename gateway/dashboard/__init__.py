"""The dashboard page at /dashboard: plain HTML, CSS and JS served by the gateway, no build step.

The page talks only to this origin's public API (login, stations, /v1/stats/*, projects), so it
works on a station's LAN with no internet: the charting library (Chart.js) is the copy the
`chartkick` PyPI package ships, served from here. Asset URLs carry a digest of their content,
so browsers keep them for a year and fetch a new copy exactly when an upgrade changes them
(shared/static.py).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request, Response

from shared.static import Asset, asset_response

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
# The page needs nothing from another origin; inline scripts and styles are not allowed either.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                # The page itself is tiny: revalidate it so a new release's asset digests reach the browser.
                "Cache-Control": "no-cache"}


@cache
def assets() -> dict[str, Asset]:
    """Every asset the page loads, by the name the page uses."""
    chart = resources.files("chartkick") / "django" / "static" / "chartkick" / "Chart.bundle.js"
    found = {"chart.js": Asset.of("chart.js", chart.read_bytes())}
    for name in ("app.js", "app.css"):
        found[name] = Asset.of(name, (STATIC / name).read_bytes())
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
    return asset_response(assets(), digest, name, request)
