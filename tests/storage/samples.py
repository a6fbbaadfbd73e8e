"""Files made at test time: photos as phones make them (EXIF with GPS, orientation, XMP), PDFs as
scanners and office programs write them, and files that only pretend to be one of those."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator

import pillow_heif
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

pillow_heif.register_heif_opener()

# Chenghua district, Chengdu: where the photographed elder lives.
GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 39.0, 36.0),
       ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (104.0, 4.0, 48.0)}
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>30,39.6N</exif:GPSLatitude></x:xmpmeta>'
COMMENT = b"Zhang Xiuying, Building 7, Hongguang Lane"


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def picture(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: which way is up shows after a rotation."""
    image = Image.new(mode, (width, height), (255, 0, 0, 255) if mode == "RGBA" else (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def jpeg(width: int = 64, height: int = 48, orientation: int = 1, *, metadata: bool = True) -> bytes:
    out = io.BytesIO()
    if metadata:
        picture(width, height).save(out, "JPEG", exif=phone_exif(orientation), xmp=XMP, comment=COMMENT)
    else:
        picture(width, height).save(out, "JPEG")
    return out.getvalue()


def png(width: int = 40, height: int = 30) -> bytes:
    info = PngInfo()
    info.add_text("Location", COMMENT.decode())
    image = picture(width, height, "RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=phone_exif())
    return out.getvalue()


def heic(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    picture(width, height).save(out, "HEIF", exif=phone_exif().tobytes())
    return out.getvalue()


def has_gps(image: Image.Image) -> bool:
    return bool(image.getexif().get_ifd(ExifTags.IFD.GPSInfo))


def pdf(payload: bytes = b"BT /F1 12 Tf (consent) Tj ET") -> bytes:
    return b"".join(pdf_parts(len(payload), lambda n: payload))


def pdf_parts(payload_size: int, payload=os.urandom, chunk: int = 64 * 1024):
    """A well-formed one-page PDF whose content stream holds `payload_size` bytes, as a generator
    of pieces: the offsets of its cross-reference table are right."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    objects = [b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
               b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
               b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n"]
    stream_head = b"4 0 obj\n<< /Length %d >>\nstream\n" % payload_size
    stream_tail = b"\nendstream\nendobj\n"
    offsets, position = [], len(head)
    for body in objects:
        offsets.append(position)
        position += len(body)
    offsets.append(position)
    position += len(stream_head) + payload_size + len(stream_tail)
    xref = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % position
    yield head
    yield from objects
    yield stream_head
    left = payload_size
    while left:
        n = min(chunk, left)
        yield payload(n)
        left -= n
    yield stream_tail + xref + trailer


async def streamed(pieces) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
