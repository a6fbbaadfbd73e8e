"""Uploads: streamed in, told by their content, cleaned, sealed into storage; and safe downloads.

`Uploads.accept` (pipeline.py) is the one way a file enters the platform; `download_headers`
(disposition.py) is how one leaves. Routes, records, scopes and audit are the services'.
"""

from shared.uploads.disposition import clean_name, content_disposition, download_headers
from shared.uploads.kinds import ALL_KINDS, IMAGES, Kind, sniff
from shared.uploads.pipeline import THUMBNAIL_SUFFIX, Accepted, Uploads, asgi_body, new_key

__all__ = [
    "ALL_KINDS", "IMAGES", "THUMBNAIL_SUFFIX", "Accepted", "Kind", "Uploads", "asgi_body", "clean_name",
    "content_disposition", "download_headers", "new_key", "sniff",
]
