"""Photos and scans re-encoded: what is stored is pixels the platform drew itself, with no metadata.

Re-encoding with Pillow drops everything but the picture: EXIF (with GPS: a photo taken at an
elder's home must not say where that home is, nor the phone's make and serial), XMP, comments,
text chunks, maker notes, and any bytes hidden after the image or around it (a polyglot that is
a valid JPEG and also something else comes out only a JPEG). The picture is first turned upright
by its EXIF orientation, as phones expect viewers to do. The colour profile (ICC) is kept: it
holds no personal data and without it an iPhone's wide-gamut colours come out wrong.

JPEG stays JPEG, PNG stays PNG (it may be a scan with transparency or text that JPEG would blur),
HEIC becomes JPEG (kinds.py says why). Pictures larger than `max_side` pixels on a side are
scaled down (a large JPEG is decoded at a reduced scale, which also bounds the memory); a
thumbnail (JPEG) is made for lists. Runs in a worker thread: Pillow releases the GIL.

Memory: Pillow holds a decoded RGB picture in 4 bytes a pixel (48 MB for a 12-megapixel photo),
in blocks of up to 16 MB. By default glibc raises its mmap threshold to the size of the first such
block freed, so later blocks come from the per-thread arenas, which keep what is freed: after a few
photos each worker thread of the default executor held a photo's worth of memory it no longer used
(a service grew by over 300 MB). With the threshold fixed at 1 MiB, a block of 1 MiB or more is
its own mapping, returned to the system when it is freed; what smaller pieces leave free is
returned after each picture (`malloc_trim`). Where the C library is not glibc, neither applies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.uploads.kinds import Kind

pillow_heif.register_heif_opener()
# Only the primary picture of a HEIC: not its thumbnails, depth maps or auxiliary images.
pillow_heif.options.THUMBNAILS = False
pillow_heif.options.DEPTH_IMAGES = False
pillow_heif.options.AUX_IMAGES = False

_FORMATS = {Kind.JPEG: "JPEG", Kind.PNG: "PNG", Kind.HEIC: "HEIF"}
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}
JPEG_QUALITY = 88
THUMBNAIL_QUALITY = 80


class ImageRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Reencoded:
    kind: Kind
    data: bytes
    thumbnail: bytes
    width: int
    height: int


def _invalid(kind: Kind) -> ImageRefused:
    return ImageRefused("invalid_file", f"The file is not a valid {kind.label} image.")


M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD = 1 << 20


def _glibc():
    """The C library, when it is glibc (it has mallopt and malloc_trim); else None (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (only glibc has both)
    except (OSError, AttributeError):
        return None
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return libc


_libc = _glibc()


def reencode(data: bytes, kind: Kind, *, max_pixels: int, max_side: int, thumbnail_side: int) -> Reencoded:
    """The picture in `data` (sniffed as `kind`) re-encoded without metadata, and its thumbnail.
    ImageRefused when it does not decode as `kind` or has more than `max_pixels` to decode."""
    try:
        return _reencode(data, kind, max_pixels=max_pixels, max_side=max_side, thumbnail_side=thumbnail_side)
    finally:
        # The decoded pictures are gone by now (only the encoded bytes are returned).
        if _libc is not None:
            _libc.malloc_trim(0)


def _reencode(data: bytes, kind: Kind, *, max_pixels: int, max_side: int, thumbnail_side: int) -> Reencoded:
    try:
        image = Image.open(io.BytesIO(data), formats=[_FORMATS[kind]])
    except Image.DecompressionBombError:
        raise ImageRefused("too_many_pixels", f"The image has more than {max_pixels} pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _invalid(kind) from None
    with image:
        if kind is Kind.JPEG and max(image.size) > max_side:
            # Decode a large JPEG at 1/2, 1/4 or 1/8 scale, never below half the size it is stored at.
            width, height = _fit(image.size, max_side)
            image.draft(None, (math.ceil(width / 2), math.ceil(height / 2)))
        if image.width * image.height > max_pixels:
            raise ImageRefused("too_many_pixels", f"The image has more than {max_pixels} pixels.")
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _invalid(kind) from None
        # A CMYK JPEG's profile describes inks, not the RGB it is converted to.
        icc = None if image.mode == "CMYK" else image.info.get("icc_profile")
        stored = Kind.PNG if kind is Kind.PNG else Kind.JPEG
        picture = _for_png(image) if stored is Kind.PNG else _for_jpeg(image)
        if max(picture.size) > max_side:
            picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        # Nothing of the original's metadata is carried over: only what is passed here is written.
        keep = {"transparency": picture.info["transparency"]} if "transparency" in picture.info else {}
        picture.info = keep
        out = io.BytesIO()
        if stored is Kind.JPEG:
            picture.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc)
        else:
            picture.save(out, "PNG", icc_profile=icc)
        width, height = picture.size
        return Reencoded(stored, out.getvalue(), _thumbnail(picture, thumbnail_side), width, height)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _for_jpeg(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return _on_white(image)
    return image.convert("RGB")


def _for_png(image: Image.Image) -> Image.Image:
    if image.mode in _PNG_MODES:
        return image
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _thumbnail(picture: Image.Image, side: int) -> bytes:
    # reducing_gap: shrink by a whole factor first (averaging boxes of pixels), then LANCZOS over
    # at least twice the thumbnail's size, as Image.thumbnail does. LANCZOS over a whole 12 MP photo
    # took 94 ms, more than decoding and encoding it together; this takes 13 ms.
    small = picture.copy() if max(picture.size) <= side else picture.resize(_fit(picture.size, side),
                                                                            Image.Resampling.LANCZOS,
                                                                            reducing_gap=2.0)
    small = _for_jpeg(small)
    small.info = {}
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()
