"""Is it a PDF? A structural check that reads a few places of the file and runs nothing in it.

A PDF is stored as uploaded (re-rendering would change a signed consent form), so the check is
only that the file is built like a PDF: the header first, `%%EOF` at its end, and a `startxref`
whose offset lands on a cross-reference table (`xref`) or a cross-reference stream (`N G obj`).
A file that only starts like a PDF (a truncated upload, a renamed other file behind a `%PDF-`
line) fails it. Nothing is parsed beyond that: no objects, streams, fonts or scripts, so there is
no parser to attack. What a PDF may hold (JavaScript, embedded files) is for the reader to
sandbox; downloads are sent as attachments (disposition.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

_HEADER = re.compile(rb"%PDF-[12]\.\d")
_STARTXREF = re.compile(rb"startxref\s+(\d{1,15})\s+%%EOF")
_XREF_AT = re.compile(rb"\s*(?:xref|\d{1,10}\s+\d{1,5}\s+obj)")


async def is_pdf(head: bytes, tail: bytes, size: int, read_at: Callable[[int, int], Awaitable[bytes]]) -> bool:
    """`head`: the first bytes; `tail`: the last 1024 (or the whole file); `read_at(offset, n)`: n bytes
    from offset."""
    if not _HEADER.match(head) or b"%%EOF" not in tail:
        return False
    found = list(_STARTXREF.finditer(tail))
    if not found:
        return False
    offset = int(found[-1][1])
    if not 0 < offset < size:
        return False
    return _XREF_AT.match(await read_at(offset, 64)) is not None
