"""Headers for sending a stored file: a safe Content-Disposition and what keeps a browser from
running what it downloads.

The name a user gave a file is data, not a header: it may hold quotes, semicolons, CR/LF (header
injection), path separators (`..\\..\\x`, a browser's `C:\\fakepath\\`), control and invisible
characters (U+202E turns "photo_gpj.exe" into "photo_exe.jpg" on screen), or be long enough to
break a header. What goes out (RFC 6266, RFC 8187 `filename*`):

    attachment; filename="ASCII fallback.pdf"; filename*=UTF-8''%E7%9F%A5%E6%83%85%E5%90%8C%E6%84%8F%E4%B9%A6.pdf

Chinese names are kept in `filename*` (every current browser reads it); the plain `filename` is
an ASCII stand-in for old clients. The extension is the stored kind's (a HEIC stored as JPEG
downloads as .jpg; "x.exe" stored as a PDF downloads as "x.exe.pdf"), so the name never
contradicts the content.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from shared.uploads.kinds import KNOWN_EXTENSIONS, Kind

MAX_NAME = 120
FALLBACK = "attachment"
# RFC 8187 attr-char (what `filename*` may hold unencoded).
_ATTR_CHARS = "!#$&+-.^_`|~"
_WINDOWS_RESERVED = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?", re.IGNORECASE)
# Character categories that are never part of a name: control, format (bidi overrides, zero
# width), surrogates, private use, unassigned, line and paragraph separators.
_DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_name(filename: str | None, kind: Kind | None = None) -> str:
    """The name as a download may carry it: no folders, no characters that are not part of a name,
    at most MAX_NAME characters, ending in the kind's extension."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]  # the last part of a path, whichever separator the client used
    # Any space (a tab, a line break, U+3000) is a plain space; anything else invisible goes.
    name = "".join(" " if c.isspace() else c for c in name if c.isspace() or unicodedata.category(c) not in _DROPPED)
    name = name.replace('"', "'")
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if kind is not None:
        if extension.lower() in KNOWN_EXTENSIONS:
            extension = ""
        stem = f"{stem}.{extension}" if extension else stem
        extension = kind.extension
    stem = stem.strip(" .") or FALLBACK
    if _WINDOWS_RESERVED.fullmatch(stem):
        stem = f"_{stem}"
    room = MAX_NAME - (len(extension) + 1 if extension else 0)
    stem = stem[:room].rstrip(" .") or FALLBACK
    return f"{stem}.{extension}" if extension else stem


def _ascii(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = re.sub(r"[^A-Za-z0-9 ._()\-]+", "_", stem).strip("_ .")
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = FALLBACK
    return f"{stem}.{extension}" if extension else stem


def content_disposition(filename: str | None, kind: Kind | None = None, *, inline: bool = False) -> str:
    """A Content-Disposition value for sending a file named `filename` (as a user gave it) whose
    content is `kind`; pure ASCII whatever the name."""
    name = clean_name(filename, kind)
    fallback = _ascii(name)
    value = f'{"inline" if inline else "attachment"}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return value


def download_headers(filename: str | None, kind: Kind, *, inline: bool = False) -> dict[str, str]:
    """Every header a download of a stored file needs besides its length: its type as stored (never
    one a client sent), its name, no sniffing into another type, and a sandbox should a browser
    render it (a PDF's scripts, an image opened as a page)."""
    return {
        "Content-Type": kind.media_type,
        "Content-Disposition": content_disposition(filename, kind, inline=inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
