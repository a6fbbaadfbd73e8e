"""Files a process serves itself (the dashboard's scripts, the API documents' Swagger UI and
ReDoc), so pages work on a station's LAN with no internet. Each is read once and served under a
digest of its content: browsers keep it for a year and fetch a new copy exactly when an upgrade
changes it."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request, Response

from shared.errors import NotFound

IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        # Compressed once: the bundled libraries are 1-1.5 MB as shipped, a fifth to a quarter gzipped.
        return cls(body=body, gzipped=gzip.compress(body, 9, mtime=0), media_type=MEDIA[Path(name).suffix],
                   digest=hashlib.sha256(body).hexdigest()[:16])


def asset_response(assets: dict[str, Asset], digest: str, name: str, request: Request) -> Response:
    """The named asset if `digest` is its current one, gzipped when the client takes it; else 404."""
    found = assets.get(name)
    if found is None or found.digest != digest:
        raise NotFound("No such asset.")
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=found.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)
