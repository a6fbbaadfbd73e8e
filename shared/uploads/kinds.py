"""The kinds of file the platform accepts, told by their content (magic bytes), never by a name
or a Content-Type a client sent: a renamed .exe or an SVG called photo.jpg is still refused.

HEIC is what iPhones take. It is accepted and stored as JPEG (images.py): a JPEG opens on any
evaluator's PC and browser, a HEIC does not (Windows needs a paid codec, browsers but Safari show
none).
"""

from __future__ import annotations

import enum
import struct


class Kind(enum.Enum):
    JPEG = "jpeg"
    PNG = "png"
    HEIC = "heic"
    PDF = "pdf"

    @property
    def label(self) -> str:
        return self.name

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]

    @property
    def extension(self) -> str:
        """The file name extension a download of this kind gets."""
        return _EXTENSIONS[self]

    @property
    def is_image(self) -> bool:
        return self is not Kind.PDF


_MEDIA_TYPES = {Kind.JPEG: "image/jpeg", Kind.PNG: "image/png", Kind.HEIC: "image/heic", Kind.PDF: "application/pdf"}
_EXTENSIONS = {Kind.JPEG: "jpg", Kind.PNG: "png", Kind.HEIC: "heic", Kind.PDF: "pdf"}
# Extensions that name one of these kinds, replaced by the stored kind's own in a download's name.
KNOWN_EXTENSIONS = {"jpg", "jpeg", "jpe", "jfif", "png", "heic", "heif", "hif", "pdf"}

ALL_KINDS = frozenset(Kind)
IMAGES = frozenset({Kind.JPEG, Kind.PNG, Kind.HEIC})

# How much of the beginning of a file `sniff` needs.
HEAD = 256

# ISO base media file brands of HEIF images coded with HEVC; AVIF (av01) and plain MIF1 without
# one of these are not HEIC.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}


def sniff(head: bytes) -> Kind | None:
    """The kind of a file from its first bytes (at least HEAD of them, or the whole file), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    # A PDF reader looks for the header in the first 1024 bytes; we want it first, which also
    # refuses files that are something else before they are a PDF.
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if _is_heic(head):
        return Kind.HEIC
    return None


def _is_heic(head: bytes) -> bool:
    # An `ftyp` box first: size (4 bytes), b"ftyp", major brand, minor version, compatible brands.
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    size = struct.unpack(">I", head[:4])[0]
    if size < 16 or size % 4:
        return False
    brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    return bool(brands & _HEIC_BRANDS)


def described(kinds: frozenset[Kind]) -> str:
    """'JPEG, PNG, HEIC, PDF': the kinds in a fixed order, for messages."""
    return ", ".join(k.label for k in Kind if k in kinds)
